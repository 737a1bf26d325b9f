import os
import signal

import pytest

from crystalbench.core.preemption import STOP_SIGNALS, EpochProgress, Preempted, stop_signals


@pytest.mark.parametrize("signum", STOP_SIGNALS)
def test_stop_signals_are_recorded_not_fatal_and_handlers_come_back(signum):
    before = signal.getsignal(signum)
    with stop_signals() as stop:
        assert not stop
        os.kill(os.getpid(), signum)  # would end the process without the handler
        assert stop and stop.signum == signum
    assert signal.getsignal(signum) is before


def test_preempted_names_the_signal_and_carries_the_progress():
    progress = EpochProgress(steps=3, loss_sum=1.5, count=24, seconds=0.2)
    stop = Preempted(signal.SIGUSR1, progress)
    assert str(stop) == "stopped by SIGUSR1" and stop.progress is progress
