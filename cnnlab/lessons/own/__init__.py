"""The own-classes lesson: the class's picture store, prepared data sets, and training a head on
the stock backbone's features."""
