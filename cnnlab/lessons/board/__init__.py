"""The class board: every drawing the class submits, kept in one SQLite file, and what the
board shows of them."""
