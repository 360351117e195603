"""The terminal progress bar of `shardlm train` (trainer.progress), with a fake terminal and clock."""

import io

from trainer.progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_bar_shows_step_loss_tokens_per_second_and_eta():
    now = [100.0]
    out = Terminal()
    bar = Progress(100, start_step=0, start_tokens=0, stream=out, clock=lambda: now[0])
    now[0] = 110.0  # 25 steps in 10 s: 75 steps left take 30 s
    bar.step(25, 6.5, 50_000)
    assert out.getvalue() == "\rstep 25/100 [######..................] loss 6.5000 5,000 tok/s ETA 0:00:30\x1b[K"
    bar.clear()
    assert out.getvalue().endswith("\r\x1b[K")
    now[0] = 150.0
    bar.step(100, 5.0, 200_000)  # the last step always draws, its ETA is 0
    bar.close()
    assert out.getvalue().endswith("step 100/100 [########################] loss 5.0000 4,000 tok/s ETA 0:00:00"
                                   "\x1b[K\n")


def test_redraws_are_throttled_and_a_resumed_run_counts_from_its_start():
    now = [0.0]
    out = Terminal()
    bar = Progress(1000, start_step=500, start_tokens=1_000_000, stream=out, clock=lambda: now[0])
    now[0] = 2.0
    bar.step(600, 4.0, 1_200_000)
    drawn = out.getvalue()
    assert drawn.endswith("100,000 tok/s ETA 0:00:08\x1b[K")  # 100 steps in 2 s, 400 left
    now[0] = 2.05
    bar.step(601, 4.0, 1_202_000)
    assert out.getvalue() == drawn  # within 0.1 s of the last redraw


def test_off_a_terminal_nothing_is_drawn():
    out = io.StringIO()
    bar = Progress(10, start_step=0, start_tokens=0, stream=out)
    for step in range(1, 11):
        bar.step(step, 1.0, step * 100)
    bar.close()
    assert not bar.live and out.getvalue() == ""
    on_other_rank = Progress(10, start_step=0, start_tokens=0, stream=Terminal(), enabled=False)
    on_other_rank.step(1, 1.0, 100)
    assert on_other_rank.stream.getvalue() == ""


def test_the_plain_log_line_carries_tokens_per_second_and_eta_without_the_bar():
    """Off a terminal the log lines are the record (trainer.run logs `plain(...)` and the lr): they
    say what the bar says, so a scheduler's log shows the throughput and the time left too."""
    now = [100.0]
    out = io.StringIO()
    bar = Progress(100, start_step=0, start_tokens=0, stream=out, clock=lambda: now[0])
    now[0] = 110.0
    assert bar.plain(25, 6.5, 50_000) == "step 25/100 loss 6.5000 5,000 tok/s ETA 0:00:30"
    assert out.getvalue() == ""  # nothing drawn
    resumed = Progress(1000, start_step=500, start_tokens=1_000_000, stream=out, clock=lambda: now[0])
    assert resumed.plain(500, 4.0, 1_000_000) == "step 500/1000 loss 4.0000 0 tok/s ETA ?"
