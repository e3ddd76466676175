"""The long fuzz of the frame parser, run by ``make chaos``: atheris, coverage-guided, over the
same property as the hypothesis test (tests/unit/feed/test_parse_fuzz.py, ``frame_holds``).

Half the inputs are raw bytes as libFuzzer mutates them; the other half are ticker frames whose
fields (prices, bid, ask, sequence number, nesting) are drawn from the fuzzer's bytes, so the
mutations reach the ticker checks and not only the JSON decoder.

    python -m tests.fuzz_parse [-runs=N]      (default: 1,000,000 frames)

It prints ``CHAOS parse_frame_atheris: frames=… malformed=… tickers=…`` every 250,000 frames and
at the end, and appends the last line to ``STREAMBOT_CHAOS_RESULTS`` like the other tests. A
failure (an escaping exception or a bad ticker) stops it with the input that caused it.
"""

from __future__ import annotations

import json
import sys

import atheris  # type: ignore[import-not-found,import-untyped,unused-ignore]  # the `chaos` extra: pip install -e '.[chaos]'

with atheris.instrument_imports():
    from streambot.feed import parse  # noqa: F401  # instrumented for coverage

from tests.chaos import report
from tests.unit.feed.test_parse_fuzz import TICKER_FIXTURE, frame_holds

DEFAULT_RUNS = 1_000_000
REPORT_EVERY = 250_000
_SPECIAL = ["NaN", "Infinity", "-Infinity", "-1", "0", "1e400", "", "9" * 40]

TICKER = json.loads(TICKER_FIXTURE)["events"][0]["tickers"][0]
counts = {"frames": 0, "malformed": 0, "tickers": 0, "rejected_tickers": 0}
run = {"runs": DEFAULT_RUNS}  # set from -runs= before the fuzzer starts


def _number(fdp: atheris.FuzzedDataProvider) -> object:
    choice = fdp.ConsumeIntInRange(0, 5)
    if choice == 5:
        return str(fdp.ConsumeIntInRange(1, 10**6) / 100)
    if choice == 0:
        return _SPECIAL[fdp.ConsumeIntInRange(0, len(_SPECIAL) - 1)]
    if choice == 1:
        return repr(fdp.ConsumeFloat())
    if choice == 2:
        return fdp.ConsumeFloat()
    if choice == 3:
        return fdp.ConsumeUnicodeNoSurrogates(8)
    return str(fdp.ConsumeIntInRange(-(10**6), 10**6))


def _structured(fdp: atheris.FuzzedDataProvider) -> bytes:
    tickers = [
        TICKER | {"price": _number(fdp), "best_bid": _number(fdp), "best_ask": _number(fdp)}
        for _ in range(fdp.ConsumeIntInRange(0, 3))
    ]
    # Mostly plausible numbers; now and then any integer of up to 96 bits, signed.
    sequence = fdp.ConsumeIntInRange(0, 2**20) if fdp.ConsumeIntInRange(0, 3) else fdp.ConsumeInt(12)
    frame = {
        "channel": ["ticker", "ticker_batch", "heartbeats", "l2_data"][fdp.ConsumeIntInRange(0, 3)],
        "client_id": "",
        "timestamp": "2023-02-09T20:30:37.167359596Z",
        "sequence_num": sequence,
        "events": [{"type": "update", "tickers": tickers, "current_time": "", "heartbeat_counter": 1}],
    }
    depth = fdp.ConsumeIntInRange(0, 3000) if fdp.ConsumeIntInRange(0, 15) == 0 else 0
    text = json.dumps(frame).encode()
    return text if not depth else text[:-1] + b',"x":' + b"[" * depth + b"]" * depth + b"}"


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    frame_bytes = _structured(fdp) if fdp.ConsumeBool() else fdp.ConsumeBytes(fdp.remaining_bytes())
    frame = frame_holds(frame_bytes)
    counts["frames"] += 1
    if frame is None:
        counts["malformed"] += 1
    else:
        counts["tickers"] += len(frame.tickers)
        counts["rejected_tickers"] += frame.rejected
    if counts["frames"] % REPORT_EVERY == 0 or counts["frames"] == run["runs"]:
        # libFuzzer ends the process with exit(): no Python hook runs after the last input.
        figures = dict(counts, escaped=0, bad_tickers=0)
        if counts["frames"] == run["runs"]:
            report("parse_frame_atheris", **figures)
        else:
            print(f"… {figures}", flush=True)


def main() -> None:
    argv = list(sys.argv)
    given = [a for a in argv if a.startswith("-runs=")]
    if given:
        run["runs"] = int(given[-1].removeprefix("-runs="))
    else:
        argv.append(f"-runs={run['runs']}")
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
