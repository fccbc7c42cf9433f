"""'What to try next': the advice of every verdict that did not pass, most severe first,
and a next step when everything passed."""

from babysit.verdict import FAIL, PASS, WARN

ORDER = {FAIL: 0, WARN: 1, PASS: 2}


def next_steps(summary: dict) -> list[str]:
    verdicts = list((summary.get("preflight") or {}).get("checks", []))
    verdicts += (summary.get("monitors") or {}).get("verdicts", [])
    steps: list[str] = []
    if summary.get("status") == "exploded":
        reason = (summary.get("explosion") or {}).get("reason", "")
        steps.append(f"The cost exploded ({reason}): divide optimizer.lr by 10 and run again.")
    for v in sorted(verdicts, key=lambda v: ORDER.get(v["status"], 3)):
        if v["status"] != PASS and v.get("advice"):
            line = f"{v['check']}: {v['advice']}"
            if line not in steps:
                steps.append(line)
    if summary.get("status") in ("failed", "interrupted", "running"):
        steps.append(f"The run is {summary.get('status')}: the figures show what happened up to that point.")
    if not steps:
        data = (summary.get("data") or {}).get("name", "")
        model = (summary.get("model") or {}).get("name", "").lower()
        steps.append("Every check passed. Tune the learning rate and regularisation coarse-to-fine: "
                     f"python train.py -m hparams_search=coarse_to_fine model={model} data={data}")
    return steps
