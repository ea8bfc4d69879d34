from __future__ import annotations

from app.engine.clock import CallClock


class TestCallClock:
    def test_explicit_times_win(self) -> None:
        clock = CallClock()
        assert clock.place(1_000_000, 5) == 1_000_000

    def test_untimed_message_follows_the_wall_clock_from_the_last_explicit_time(self) -> None:
        clock = CallClock()
        clock.place(1_000_000, 500)
        assert clock.place(None, 800) == 1_000_300

    def test_time_never_goes_backwards(self) -> None:
        clock = CallClock()
        clock.place(2_000, 0)
        assert clock.place(1_000, 10) == 2_000

    def test_deadlines_convert_to_wall_time(self) -> None:
        clock = CallClock()
        clock.place(1_000_000, 500)
        assert clock.to_wall(1_005_000) == 5_500
