"""schemas.progress_format: the time, bar and byte unit that the jobs' and the trainer's progress lines share."""

from schemas.progress_format import WIDTH, bar, byte_unit, format_eta


def test_format_eta_rounds_to_the_second_and_does_not_wrap_hours():
    assert format_eta(3725.4) == "1:02:05"
    assert format_eta(59.5) == "0:01:00"
    assert format_eta(0) == "0:00:00"
    assert format_eta(100 * 3600 + 7) == "100:00:07"


def test_bar_fills_in_proportion_rounding_down_and_stays_inside_its_brackets():
    assert bar(25, 100) == "[######..................]"
    assert bar(99, 100) == "[" + "#" * 23 + "." + "]"  # not full until done
    assert bar(100, 100) == "[" + "#" * WIDTH + "]"
    assert bar(150, 100) == bar(100, 100) and bar(-5, 100) == "[" + "." * WIDTH + "]"
    assert bar(0, 0) == bar(100, 100)  # nothing to do is done
    assert all(len(bar(d, 7)) == WIDTH + 2 for d in range(-1, 9))


def test_byte_unit_picks_the_largest_decimal_unit_at_or_below_the_count():
    assert byte_unit(400_000_000) == (1e6, "MB")
    assert byte_unit(1e9) == (1e9, "GB")
    assert byte_unit(999) == (1.0, "B")
    assert byte_unit(0) == (1.0, "B")
