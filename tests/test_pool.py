"""The fleet runner: bounded concurrency, the two-press stop, worker errors, the deadline hook."""

from __future__ import annotations

import threading
import time

import pytest

from remediate.interrupt import TwoPressStop
from remediate.pool import LOOK_S, Background, HostPool


def test_never_more_than_forks_items_at_once_and_every_item_done_once() -> None:
    lock = threading.Lock()
    running = 0
    most = 0
    seen: list[int] = []

    def work(index: int, item: str) -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.01)
        with lock:
            running -= 1
            seen.append(index)
        return item.upper()

    items = [f"h{n}" for n in range(30)]
    ran = HostPool(items, work, forks=4, stop=TwoPressStop(), name="t").run()
    assert most == 4
    assert sorted(seen) == list(range(30))
    assert ran.done == {n: f"H{n}" for n in range(30)}
    assert ran.given_up == [] and ran.untaken == []


def test_first_press_stops_taking_and_lets_the_items_in_flight_finish() -> None:
    stop = TwoPressStop()
    started = threading.Event()

    def work(index: int, item: int) -> int:
        started.set()
        time.sleep(0.2)
        return item

    pool = HostPool(list(range(10)), work, forks=2, stop=stop, name="t")
    threading.Thread(target=lambda: (started.wait(), stop.press())).start()
    ran = pool.run()
    assert 1 <= len(ran.done) <= 2  # the ones in flight at the press finished and were kept
    assert ran.given_up == [] and ran.untaken == []


def test_second_press_returns_at_once_and_drops_what_is_still_in_flight() -> None:
    stop = TwoPressStop()
    release = threading.Event()
    given: list[tuple[list[int], list[int]]] = []
    finished: list[int] = []

    def work(index: int, item: int) -> int:
        if index == 0:
            return item
        release.wait(5)  # a host that does not answer
        return item

    pool = HostPool(
        list(range(5)), work, forks=2, stop=stop, name="t",
        finish=lambda index, result: finished.append(index),
        on_abandon=lambda in_flight, untaken: given.append((in_flight, untaken)),
    )

    def press_twice() -> None:
        while len(pool.in_flight()) < 2:
            time.sleep(0.01)
        stop.press()
        stop.press()

    threading.Thread(target=press_twice).start()
    began = time.monotonic()
    ran = pool.run()
    assert time.monotonic() - began < 2
    release.set()
    time.sleep(0.1)  # the abandoned worker's late result must not be kept
    assert ran.done == {0: 0}
    assert given == [(ran.given_up, ran.untaken)]
    assert sorted(ran.given_up + ran.untaken + list(ran.done)) == list(range(5))
    assert set(finished) == {0}


def test_a_worker_error_stops_taking_and_is_raised_to_the_caller() -> None:
    taken: list[int] = []

    def work(index: int, item: int) -> int:
        taken.append(index)
        if index == 1:
            raise OSError("disk full")
        time.sleep(0.01)
        return item

    with pytest.raises(OSError, match="disk full"):
        HostPool(list(range(50)), work, forks=2, stop=TwoPressStop(), name="t").run()
    assert len(taken) < 10


def test_the_deadline_hook_names_an_item_in_flight_too_long_once() -> None:
    late: list[int] = []

    def work(index: int, item: float) -> float:
        time.sleep(item)
        return item

    HostPool([0.0, 0.4, 0.0], work, forks=3, stop=TwoPressStop(), name="t", deadline_s=0.15,
             on_deadline=late.append).run()
    assert late == [1]


def test_an_item_given_up_at_its_deadline_frees_its_worker_for_the_rest() -> None:
    release = threading.Event()
    pool: HostPool[float, float]

    def work(index: int, item: float) -> float:
        if index == 0:
            release.wait(5)  # never answers while the test runs
        return item

    def expire(index: int) -> None:
        assert pool.give_up(index)

    pool = HostPool([0.0, 1.0, 2.0, 3.0], work, forks=1, stop=TwoPressStop(), name="t", deadline_s=0.1,
                    on_deadline=expire)
    began = time.monotonic()
    ran = pool.run()
    assert time.monotonic() - began < 2
    release.set()
    assert ran.done == {1: 1.0, 2: 2.0, 3: 3.0}


def test_the_waiting_thread_sleeps_until_a_deadline_or_a_press_not_a_fixed_tick() -> None:
    # It wakes for what it waits for: a deadline when it is due, a press when it comes, each well before the
    # longest it ever sleeps without a reason (LOOK_S), with no worker finishing meanwhile to wake it.
    assert LOOK_S >= 1.0
    stop = TwoPressStop()
    release = threading.Event()
    began = time.monotonic()
    late: list[float] = []

    def work(index: int, item: int) -> int:
        release.wait(10)  # a host that does not answer
        return item

    def press_after_the_deadline() -> None:
        while not late:
            time.sleep(0.01)
        time.sleep(0.1)  # the waiting thread is asleep again, with no deadline left to wake it
        stop.press()
        stop.press()

    threading.Thread(target=press_after_the_deadline, daemon=True).start()
    try:
        ran = HostPool([0, 1], work, forks=2, stop=stop, name="t", deadline_s=0.2,
                       on_deadline=lambda index: late.append(time.monotonic() - began)).run()
        took = time.monotonic() - began
    finally:
        release.set()
    assert len(late) == 2 and min(late) >= 0.2 and max(late) < 0.8  # each item's deadline, on time
    assert took - max(late) < 0.8 and sorted(ran.given_up) == [0, 1]  # the press, at once


def test_halt_stops_taking_without_a_press() -> None:
    done: list[int] = []

    def work(index: int, item: int) -> int:
        done.append(index)
        return item

    ran = HostPool(list(range(20)), work, forks=1, stop=TwoPressStop(), name="t", halt=lambda: len(done) >= 3).run()
    assert sorted(ran.done) == [0, 1, 2]


def test_background_work_runs_off_the_callers_thread_and_wait_sees_it_done() -> None:
    done: list[str] = []
    release = threading.Event()
    background = Background(workers=2, name="t")
    for name in ("a", "b", "c"):
        background.submit(lambda name=name: (release.wait(5), done.append(name)))
    assert done == []  # submit returned at once
    abandoned = threading.Event()
    abandoned.set()
    assert background.wait(abandoned) is False  # an abandoned run does not wait
    release.set()
    assert background.wait() is True and sorted(done) == ["a", "b", "c"]


def test_background_work_that_fails_does_not_stop_the_rest() -> None:
    done: list[int] = []
    background = Background(workers=1, name="t")
    background.submit(lambda: 1 / 0)  # type: ignore[func-returns-value]
    background.submit(lambda: done.append(1))
    assert background.wait() is True and done == [1]
