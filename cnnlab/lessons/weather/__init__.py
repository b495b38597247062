"""The weather lesson: regression on a table (the course's Seattle weather, or a student's CSV)."""
