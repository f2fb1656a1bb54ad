"""Policy matching at city scale: chanye beside OpenFisca-core, plain numpy and
rule-engine, on 3,600,000 synthetic enterprises and 100 generated policies. See
``benchmarks/policy/`` (figures in ``benchmarks/results/policy.json``)."""

from __future__ import annotations

import json

from benchmarks.policy.run import chanye_hook, run


def main() -> None:
    figures = run(chanye_evaluate=chanye_hook())
    summary = {
        name: figures["competitors"][name].get(
            "seconds", figures["competitors"][name].get("warm_seconds")
        )
        for name in figures["competitors"]
    }
    print(
        json.dumps(
            {"seconds": summary, "all_agree": figures["all_agree"], "ratios": figures["ratios"]},
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
