"""core.cache.LRU, the one cache type: bounded, most recent kept, and told what it lets go of."""
from __future__ import annotations

from cnnlab.core.cache import LRU


def test_the_least_recently_used_goes_first():
    c = LRU(2)
    c.put("a", 1)
    c.put("b", 2)
    assert c.get("a") == 1                  # a is now the most recent
    c.put("c", 3)
    assert (c.get("a"), c.get("b"), c.get("c"), len(c)) == (1, None, 3, 2)


def test_on_evict_hears_of_every_value_let_go_and_of_a_replaced_one():
    gone = []
    c = LRU(2, on_evict=gone.append)
    for k, v in [("a", 1), ("b", 2), ("c", 3)]:
        c.put(k, v)
    assert gone == [1]
    c.put("c", 30)                          # replaced: the old value is let go of
    assert gone == [1, 3]
    c.put("c", 30)                          # the same value again: nothing let go
    assert gone == [1, 3]


def test_get_or_make_makes_once_and_retain_keeps_what_it_is_told():
    made = []
    c = LRU(10)
    for _ in range(3):
        assert c.get_or_make("k", lambda: made.append(1) or "v") == "v"
    assert made == [1]
    for k in "xyz":
        c.put(k, k.upper())
    c.retain(lambda k: k in ("k", "y"))
    assert (len(c), c.get("x"), c.get("y")) == (2, None, "Y")
