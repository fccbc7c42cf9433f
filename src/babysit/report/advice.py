"""'What to try next': the advice of every verdict that still holds and did not pass, most severe
first, and a next step when everything passed. A monitor that judged more than once (a warning
during training, an all-clear at the end) counts with its last verdict only."""

from babysit.verdict import FAIL, INFO, WARN

ORDER = {FAIL: 0, WARN: 1, INFO: 2}


def holding(verdicts: list[dict]) -> list[dict]:
    """The last verdict of each monitor check: the one that holds at the end of the run."""
    last = {}
    for v in verdicts:
        last.setdefault(v["check"], []).append(v)
    out = []
    for same in last.values():
        final_epoch = same[-1].get("epoch")
        out += [v for v in same if v.get("epoch") == final_epoch] if final_epoch is not None else same[-1:]
    return out


def next_steps(summary: dict) -> list[str]:
    verdicts = list((summary.get("preflight") or {}).get("checks", []))
    verdicts += holding((summary.get("monitors") or {}).get("verdicts", []))
    steps: list[str] = []
    if summary.get("status") == "exploded":
        reason = (summary.get("explosion") or {}).get("reason", "")
        steps.append(f"The cost exploded ({reason}): divide optimizer.lr by 10 and run again.")
    for v in sorted(verdicts, key=lambda v: ORDER.get(v["status"], 3)):
        if v["status"] in ORDER and v.get("advice"):
            line = f"{v['check']}: {v['advice']}"
            if line not in steps:
                steps.append(line)
    if summary.get("status") in ("failed", "interrupted", "running"):
        steps.append(f"The run is {summary.get('status')}: the figures show what happened up to that point.")
    if not steps and summary.get("kind") == "babysitter":
        steps.append("Every check passed. Search the learning rate and regularisation coarse-to-fine, the learning "
                     "rate around the range test's usable range.")
    if not steps:
        data = (summary.get("data") or {}).get("name", "")
        model = (summary.get("model") or {}).get("name", "").lower()
        steps.append("Every check passed. Tune the learning rate and regularisation coarse-to-fine: "
                     f"python train.py -m hparams_search=coarse_to_fine model={model} data={data}")
    return steps
