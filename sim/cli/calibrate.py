"""`clets calibrate` and `clets check`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from sim.cli.common import (
    LazyBar,
    _report,
    app,
    check_replications,
    check_workers,
    err,
    out,
    user_errors,
)
from sim.config import load_scenario


@app.command()
@user_errors
def calibrate(
    replications: int = typer.Option(3, help="replications per scenario (seed r = seed*1000 + r)"),
    workers: int = typer.Option(1, help="parallel processes (results do not depend on it)"),
    fit: bool = typer.Option(False, "--fit", help="first fit the free parameters to the fitted figures"),
    scenarios_dir: Path = typer.Option(Path("scenarios"), "--scenarios", help="where the scenarios are"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="results directory to create"),
) -> None:
    """Fitted figures (2010-2014 record, 58% in 2017) and held-out predictions (98% in 2018,
    2016 and 2019-2023 investigations, 2017 dismissals): record, model mean, 95% CI.
    With --fit, the free parameters are first fitted (scipy least squares) and written to
    fitted_parameters.yaml; held-out figures are never used in fitting."""
    import pandas as pd
    import yaml

    from sim.calibration import FITTED, HELD_OUT
    from sim.calibration import calibrate as run_calibration
    from sim.outputs import new_run_id, run_directory, write_manifest

    check_replications(replications)
    check_workers(workers)
    for name in sorted({f.scenario for f in FITTED + HELD_OUT}):
        load_scenario(scenarios_dir / f"{name}.yaml", f"--scenarios {scenarios_dir}: scenario file")
    target = out_dir or Path("results") / "calibration" / new_run_id(0)
    with run_directory(target) as tmp:
        with LazyBar("calibration runs" + (" (fitting first)" if fit else ""), total=None) as bar:
            bar.update(completed=0)
            res = run_calibration(
                scenarios_dir, replications, workers, do_fit=fit, on_run=lambda: bar.update(advance=1),
                on_evaluation=lambda h: err.print("fit evaluation: " + ", ".join(
                    f"{k.split('.')[-1]}={v:.3g}" for k, v in h.items())))
        table = res["table"]
        table.to_csv(tmp / "calibration.csv", index=False)
        res["runs"].to_csv(tmp / "calibration_runs.csv", index=False)
        params = {k: v for k, v in res["params"].items()}
        (tmp / "fitted_parameters.yaml").write_text(
            "# Free parameters " + ("fitted by clets calibrate --fit" if fit else "used (defaults)")
            + "; dotted scenario keys.\n" + yaml.safe_dump(params, sort_keys=True))
        if res["fit"] is not None:
            pd.DataFrame(res["fit"].history).to_csv(tmp / "fit_history.csv", index=False)
        write_manifest(tmp, kind="calibration", replications=replications, fitted=fit,
                       parameters=params, targets=table.to_dict(orient="records"))
    for role, title in (("fitted", "fitted figures (used to fit the free parameters)"),
                        ("held-out", "held-out figures (never used in fitting): predictions")):
        t = Table(title=f"{title}, {replications} replications")
        for col in ("figure", "record", "model mean", "95% CI", "record inside?"):
            t.add_column(col, justify="left" if col == "figure" else "right")
        for _, r in table[table["role"] == role].iterrows():
            share = r["measure"].endswith("share") or r["measure"].startswith("share_")
            fmt = (lambda v: f"{v:.1%}") if share else (lambda v: f"{v:,.1f}")
            t.add_row(r["figure"], fmt(r["record"]), fmt(r["mean"]),
                      f"{fmt(r['ci_low'])} - {fmt(r['ci_high'])}",
                      "[green]yes[/]" if r["inside"] else "[red]no: miss[/]")
        out.print(t)
    out.print("parameters: " + ", ".join(f"{k.split('.')[-1]}={v:.3g}" if isinstance(v, float)
                                        else f"{k.split('.')[-1]}={v}" for k, v in params.items()))
    _report(target)
    out.print(f"results: [bold]{target}[/]")
