#!/usr/bin/python3
"""DAPA experiments E1-E4 on ViTs (Fashion-MNIST) and GPTs (the Brown corpus), driving
dapa_fit and train_vit / train_gpt (the model's name says which: vit-* or gpt-*).

  e1  inference substitution: a GELU-trained checkpoint evaluated with PWL(N), DAPA(N)
      and DAPA(N) refined (dapa_fit --refine), N in {4, 8, 16, 32}, float and 16-bit
      fixed point; the change against GELU (ViT: test accuracy in points; GPT: validation
      perplexity in percent, and test perplexity), the loss change and flips (test
      images, or validation and test tokens, whose arg-max prediction changes), with
      each approximation's MSE (uniform grid on [-4, 4]) and DWMSE (on the data).
  e2  which error predicts the damage: Spearman rank correlation of MSE and of DWMSE
      with the accuracy loss (GPT: the perplexity increase), the flips and the loss
      increase, over all E1 approximations (from e1.csv).
  e3  training from scratch, GELU vs DAPA(16) slope vs DAPA(16) fitted: one figure of the
      three loss curves and the final accuracies (from the runs' metrics.csv).
  e3-seeds  E3 replicated over seeds: GELU and DAPA(16) runs paired by seed, the mean
      and spread of the accuracy differences.
  e4  calibration-set size: DAPA(16) fitted from 1, 4, ..., 1024 images (GPT: 128 to
      65536 tokens), float and fixed.
  summary  markdown tables of all the CSV files in --results.

--replace softmax (or both) makes e1 and e2 replace the attention softmax's exp (and the
GELU) instead of the GELU alone (dapa_fit --fit, train_* --softmax), into e1-softmax.csv
and e2-softmax.csv (e1-both.csv, e2-both.csv); their MSE and DWMSE are those of the exp
tables (both: the mean over all sites), MSE on each table's domain.

Each step appends to CSV files in --results (e1.csv, e4.csv; e2.csv, e3.csv and
e3-seeds.csv are rewritten) and prints a markdown table. Examples:
  experiments/dapa_experiments.py e1 --model vit-nano --checkpoint runs/gelu-nano/checkpoint.h5
  experiments/dapa_experiments.py e3 --model vit-nano --gelu runs/gelu-nano \\
      --slope runs/dapa16-nano --fitted runs/dapa16f-nano
  experiments/dapa_experiments.py e3-seeds --model vit-nano --gelu runs/gelu-s1 runs/gelu-s2 \\
      --slope runs/dapa16-s1 runs/dapa16-s2
  experiments/dapa_experiments.py e1 --model gpt-nano --data data/brown.h5 \\
      --checkpoint runs/gpt-nano-gelu-s1/checkpoint.h5 --results experiments/results-gpt
Needs only Python's standard library, build/bin and gnuplot (for the E3 figure).
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# What the experiments measure on each kind of model: the program, the calibration
# examples, the headline measure (its --eval-only key, its name in the CSV files), how a
# change of it is shown, and which direction is damage.
KINDS = {
    "vit": dict(program="train_vit", examples="images", measure="test_accuracy",
                loss="test_loss", value="accuracy", change="change_points", unit="points",
                damage="accuracy loss", worse=-1, calibration=[1, 4, 16, 64, 256, 1024],
                calibrate=1024),
    "gpt": dict(program="train_gpt", examples="tokens", measure="val_perplexity",
                loss="val_loss", value="perplexity", change="change_percent", unit="%",
                damage="perplexity increase", worse=1,
                calibration=[128, 512, 2048, 8192, 32768, 65536], calibrate=32768),
}


def kind_of(model):
    k = KINDS.get(model.split("-")[0])
    if k is None:
        sys.exit(f"dapa_experiments: unknown model '{model}' (expected vit-* or gpt-*)")
    return k


def change(k, value, base):
    """ViT: accuracy points; GPT: perplexity percent."""
    if k["change"] == "change_points":
        return round(100 * (value - base), 2)
    return round(100 * (value / base - 1), 3)


def show_value(k, v):
    return f"{100 * float(v):.2f}%" if k["value"] == "accuracy" else f"{float(v):.3f}"


def sh(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return out


def e1_csv(a, step="e1"):
    """e1.csv for the GELU alone, e1-softmax.csv or e1-both.csv (e2 likewise)."""
    return os.path.join(a.results, step + ("" if a.replace == "act" else "-" + a.replace) + ".csv")


def substitution(a, spec):
    """The flags that put the table `spec` where --replace says."""
    return {"act": ["--act", spec], "softmax": ["--softmax", spec],
            "both": ["--act", spec, "--softmax", spec]}[a.replace]


def evaluate(a, checkpoint, act=None, table=None):
    """The headline measure, the loss, each held-out example's arg-max prediction (and,
    for a GPT, the test perplexity)."""
    k = kind_of(a.model)
    with tempfile.TemporaryDirectory() as tmp:
        predictions = os.path.join(tmp, "predictions.txt")
        cmd = [os.path.join(a.bin, k["program"]), "--data", a.data, "--eval-only", "--checkpoint",
               checkpoint, "--threads", str(a.threads), "--eval-batch", str(a.eval_batch),
               "--predictions", predictions]
        if a.limit_test:
            cmd += ["--limit-test", str(a.limit_test)]
        if act:
            cmd += substitution(a, act)
        if table:
            cmd += ["--dapa-table", table]
        result = json.loads(sh(cmd).strip().splitlines()[-1])
        with open(predictions) as f:
            predicted = [int(line) for line in f]
    return {"value": result[k["measure"]], "loss": result[k["loss"]], "predicted": predicted,
            "test_perplexity": result.get("test_perplexity")}


def against(a, base, e):
    """What an approximation changes against the GELU evaluation: the headline measure,
    the loss, and flips, the held-out examples whose arg-max prediction is no longer
    GELU's (a finer measure of fidelity than the accuracy, where gains and losses
    cancel)."""
    k = kind_of(a.model)
    row = {f"gelu_{k['value']}": base["value"], k["value"]: e["value"],
           k["change"]: change(k, e["value"], base["value"]),
           "loss_change": round(e["loss"] - base["loss"], 6),
           "flips": sum(p != q for p, q in zip(base["predicted"], e["predicted"]))}
    if e["test_perplexity"] is not None:
        row["test_change_percent"] = change(k, e["test_perplexity"], base["test_perplexity"])
    return row


def fit(a, checkpoint, kind, segments, examples, out, extra=()):
    """Fits `kind` (pwl, dapa or dapa-refined) tables on `examples` calibration images or
    tokens; returns their mean errors."""
    report = out + ".json"
    if kind == "dapa-refined":
        kind, extra = "dapa", ["--refine", *extra]
    sh([os.path.join(a.bin, "dapa_fit"), "--checkpoint", checkpoint, "--data", a.data,
        f"--{kind_of(a.model)['examples']}", str(examples), "--segments", str(segments), "--kind", kind,
        "--threads", str(a.threads), "--out", out, "--report", report, "--fit", a.replace, *extra])
    with open(report) as f:
        return json.load(f)["mean"]


def append_rows(path, rows):
    new = not os.path.exists(path)
    if not new:
        with open(path) as f:
            header = next(csv.reader(f), [])
        if header != list(rows[0].keys()):
            sys.exit(f"dapa_experiments: {path} has other columns ({','.join(header)}); "
                     f"use another --results directory")
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        if new:
            w.writeheader()
        w.writerows(rows)


def read_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def rewrite_rows(path, rows):
    if os.path.exists(path):
        os.remove(path)
    append_rows(path, rows)


def replace_model_rows(path, model, rows):
    """Rewrites the CSV file with `rows` in place of the ones it held for `model`."""
    old = [r for r in read_rows(path) if r["model"] != model] if os.path.exists(path) else []
    rewrite_rows(path, old + rows)


def has_flips(rows):
    """Whether the E1 rows record flips and test-loss changes (older e1.csv files do not)."""
    return all(r.get("flips") for r in rows)


def change_table(title, column, heading, rows, lines, value="change_points"):
    """Markdown table of one measure per row (value: change_points as +0.00,
    change_percent as +0.000, or flips): one column per value of rows[column] (headed
    heading(value)), one line per (label, predicate) in lines."""
    show = {"change_points": lambda v: f"{float(v):+.2f}",
            "change_percent": lambda v: f"{float(v):+.3f}%"}.get(value, str)
    keys = sorted({int(r[column]) for r in rows})
    out = [f"| {title} | " + " | ".join(heading(k) for k in keys) + " |",
           "|---|" + "---|" * len(keys)]
    for label, pick in lines:
        cells = {int(r[column]): r[value] for r in rows if pick(r)}
        out.append(f"| {label} | " + " | ".join(show(cells[k]) for k in keys) + " |")
    return out


def e1_lines(rows):
    """(label, predicate) per approximation kind and precision present in rows."""
    names = {"pwl": "PWL(N)", "dapa": "DAPA(N)", "dapa-refined": "DAPA(N) refined"}
    return [(f"{names[kind]} {precision}",
             lambda r, kind=kind, precision=precision: r["kind"] == kind
             and r["precision"] == precision)
            for kind in names if any(r["kind"] == kind for r in rows)
            for precision in ("float", "fixed")]


def e1_table(rows, model, value=None):
    k = kind_of(model)
    value = value or k["change"]
    sel = [r for r in rows if r["model"] == model]
    gelu = show_value(k, sel[0][f"gelu_{k['value']}"])
    title = (f"{model} (GELU {k['value']} {gelu})" if value == k["change"]
             else f"{model}: {value}")
    return change_table(title, "segments", lambda n: f"N={n}", sel, e1_lines(sel), value)


def mean_sd(values):
    mean = sum(values) / len(values)
    return mean, (sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1)) ** 0.5


def e1_mean_table(rows, value):
    """E1 over several checkpoints (models) in one e1.csv: mean +- standard deviation."""
    models = sorted({r["model"] for r in rows})
    keys = sorted({int(r["segments"]) for r in rows})
    fmt = {"change_points": "{:+.2f} +- {:.2f}",
           "change_percent": "{:+.3f}% +- {:.3f}"}.get(value, "{:.1f} +- {:.1f}")
    out = [f"| {value}, mean of {len(models)} checkpoints | " +
           " | ".join(f"N={k}" for k in keys) + " |", "|---|" + "---|" * len(keys)]
    for label, pick in e1_lines(rows):
        cells = [fmt.format(*mean_sd([float(r[value]) for r in rows
                                      if pick(r) and int(r["segments"]) == k]))
                 for k in keys]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out


def e4_table(rows, model):
    k = kind_of(model)
    sel = [r for r in rows if r["model"] == model]
    lines = [(f"DAPA(16) {precision}", lambda r, precision=precision: r["precision"] == precision)
             for precision in ("float", "fixed")]
    return change_table(model, k["examples"], lambda n: f"{n} {k['examples']}", sel, lines,
                        k["change"])


def e1(a):
    k = kind_of(a.model)
    base = evaluate(a, a.checkpoint)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in a.segments:
            for kind in a.kinds:
                table = os.path.join(tmp, f"{kind}{n}.h5")
                m = fit(a, a.checkpoint, kind, n, a.calibrate, table)
                for fixed in (False, True):
                    act = (f"dapa:{n}:refined" if kind == "dapa-refined" else f"{kind}:{n}") + (
                        ":fixed" if fixed else "")
                    suffix = "_fixed" if fixed else ""
                    row = {"model": a.model, "approximation": act, "kind": kind,
                           "segments": n, "precision": "fixed" if fixed else "float",
                           **against(a, base, evaluate(a, a.checkpoint, act, table)),
                           "mse": m["mse" + suffix], "dwmse": m["dwmse" + suffix]}
                    rows.append(row)
                    print(f"{a.model} {act}: {show_value(k, row[k['value']])} "
                          f"({row[k['change']]:+} {k['unit']}, {row['flips']} flips)",
                          file=sys.stderr)
        # The DSP-free table (hw/): DAPA(16) with shift-add slopes, fixed point only.
        shift_add = None
        if "dapa" in a.kinds and a.replace == "act":
            table = os.path.join(tmp, "shiftadd16.h5")
            m = fit(a, a.checkpoint, "dapa", 16, a.calibrate, table, ["--shift-add"])
            shift_add = {"model": a.model, "approximation": "dapa:16:fixed shift-add",
                         "kind": "dapa-shift-add", "segments": 16, "precision": "fixed",
                         **against(a, base, evaluate(a, a.checkpoint, "dapa:16:fixed", table)),
                         "mse": m["mse_fixed"], "dwmse": m["dwmse_fixed"]}
    append_rows(e1_csv(a), rows)
    if shift_add:
        append_rows(os.path.join(a.results, "e1-shift-add.csv"), [shift_add])
        dapa16 = next((r for r in rows if r["approximation"] == "dapa:16:fixed"), None)
        if dapa16:
            print(f"DAPA(16) fixed: {dapa16[k['change']]:+} {k['unit']}, DWMSE "
                  f"{dapa16['dwmse']:.3g}; shift-add (DSP-free): "
                  f"{shift_add[k['change']]:+} {k['unit']}, DWMSE {shift_add['dwmse']:.3g}\n")
    print("\n".join(e1_table(rows, a.model) + [""] + e1_table(rows, a.model, "flips")))


def ranks(values):
    order = sorted(range(len(values)), key=lambda i: values[i])
    r = [0.0] * len(values)
    i = 0
    while i < len(order):  # ties share their mean rank
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(x, y):
    rx, ry = ranks(x), ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((p - mx) * (q - my) for p, q in zip(rx, ry))
    vx = sum((p - mx) ** 2 for p in rx) ** 0.5
    vy = sum((q - my) ** 2 for q in ry) ** 0.5
    return cov / (vx * vy) if vx > 0 and vy > 0 else float("nan")


def e2(a):
    """Rank correlations of MSE and DWMSE with the damage each approximation does: the
    accuracy loss (the target's measure) and, where e1.csv has them, the flips and the
    test-loss increase (finer measures: an accuracy change of a few images hides how
    many decisions moved)."""
    rows = read_rows(e1_csv(a))
    k = kind_of(rows[0]["model"])
    damages = [(k["damage"], lambda r: k["worse"] * float(r[k["change"]]))]
    if has_flips(rows):
        damages += [("flips", lambda r: int(r["flips"])),
                    ("loss increase", lambda r: float(r["loss_change"]))]
    out = []
    for g in sorted({r["model"] for r in rows}) + ["all"]:
        sel = [r for r in rows if g == "all" or r["model"] == g]
        row = {"models": g, "approximations": len(sel)}
        for name, damage in damages:
            d = [damage(r) for r in sel]
            for metric in ("mse", "dwmse"):
                row[f"spearman_{metric}_{name.replace(' ', '_')}"] = round(
                    spearman([float(r[metric]) for r in sel], d), 3)
        out.append(row)
    rewrite_rows(e1_csv(a, "e2"), out)
    print("| models | approximations | " + " | ".join(
        f"Spearman({m}, {name})" for name, _ in damages for m in ("MSE", "DWMSE")) + " |")
    print("|---|---|" + "---|" * (2 * len(damages)))
    for r in out:
        print("| " + " | ".join([r["models"], str(r["approximations"])] +
                                [f"{v:.2f}" for k, v in r.items() if k.startswith("spearman")])
              + " |")


def final_measure(a, run):
    with open(os.path.join(run, "summary.json")) as f:
        return json.load(f)[kind_of(a.model)["measure"]]


def e3(a):
    runs = {"GELU": a.gelu, "DAPA(16) slope": a.slope, "DAPA(16) fitted": a.fitted}
    png = os.path.join(a.results, f"e3-{a.model}.png")
    plots = []
    for i, (label, run) in enumerate(runs.items()):
        csvp = os.path.join(run, "metrics.csv")
        # Columns by the names in the file's header line (train/run_log.h's schema).
        plots.append(f"'{csvp}' using (strcol('kind') eq 'train' ? column('step') : NaN):"
                     f"(column('train_loss')) with lines lw 1 lc {i + 1} title '{label} train'")
        split = kind_of(a.model)["loss"].split("_")[0]  # test (ViT) or val (GPT)
        plots.append(f"'{csvp}' using (strcol('kind') eq '{split}' ? column('step') : NaN):"
                     f"(column('{split}_loss')) with linespoints lw 2 dt 2 lc {i + 1} "
                     f"title '{label} {split}'")
    script = "\n".join([
        "set terminal pngcairo size 1000,600 noenhanced", f"set output '{png}'",
        "set datafile separator ','", "set datafile columnheaders",
        f"set title '{a.model}: GELU vs DAPA(16) from scratch'",
        "set xlabel 'step'", "set ylabel 'loss'", "set logscale y", "set grid",
        "set key top right", "plot " + ", ".join(plots)])
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    k = kind_of(a.model)
    measure = {label: final_measure(a, run) for label, run in runs.items()}
    rows = [{"model": a.model, "variant": label, "run": run, k["value"]: measure[label],
             k["change"]: change(k, measure[label], measure["GELU"])}
            for label, run in runs.items()]
    replace_model_rows(os.path.join(a.results, "e3.csv"), a.model, rows)
    print("\n".join(e3_table(rows)))
    print(f"figure: {png}")


def e3_seeds(a):
    """E3 replicated: GELU and DAPA(16) runs paired by seed (--gelu and --slope list the
    run directories in the same order): each pair's final accuracies and the mean and
    standard deviation of the differences, since one seed's difference is mostly noise."""
    if len(a.gelu) != len(a.slope):
        sys.exit("dapa_experiments: e3-seeds pairs --gelu and --slope runs: give as many of each")
    rows = []
    for g, d in zip(a.gelu, a.slope):
        with open(os.path.join(d, "config.json")) as f:
            seed = json.load(f)["recipe"]["seed"]
        k = kind_of(a.model)
        gelu, dapa = final_measure(a, g), final_measure(a, d)
        rows.append({"model": a.model, "seed": seed, "gelu_run": g, "dapa_run": d,
                     f"gelu_{k['value']}": gelu, f"dapa_{k['value']}": dapa,
                     k["change"]: change(k, dapa, gelu)})
    replace_model_rows(os.path.join(a.results, "e3-seeds.csv"), a.model, rows)
    print("\n".join(e3_seeds_table(rows)))


def e3_seeds_table(rows):
    out = ["| model, DAPA(16) variant | seed | GELU | DAPA(16) | change |",
           "|---|---|---|---|---|"]
    for model in sorted({r["model"] for r in rows}):
        k = kind_of(model)
        sel = [r for r in rows if r["model"] == model]
        for r in sel:
            out.append(f"| {model} | {r['seed']} | {show_value(k, r['gelu_' + k['value']])} | "
                       f"{show_value(k, r['dapa_' + k['value']])} | "
                       f"{float(r[k['change']]):+} {k['unit']} |")
        mean, sd = mean_sd([float(r[k["change"]]) for r in sel])
        out.append(f"| {model} | mean of {len(sel)} | | | **{mean:+.3f}** +- {sd:.3f} "
                   f"{k['unit']} |")
    return out


def e3_table(rows):
    """GELU, DAPA(16) slope and fitted from scratch: final measure and change, per model."""
    out = ["| model | GELU | DAPA(16) slope | DAPA(16) fitted |", "|---|---|---|---|"]
    for model in sorted({r["model"] for r in rows}):
        k = kind_of(model)
        sel = {r["variant"]: r for r in rows if r["model"] == model}
        out.append(f"| {model} | " + " | ".join(
            f"{show_value(k, sel[v][k['value']])} ({float(sel[v][k['change']]):+} {k['unit']})"
            if v in sel else "not run"
            for v in ("GELU", "DAPA(16) slope", "DAPA(16) fitted")) + " |")
    return out


def e4(a):
    k = kind_of(a.model)
    base = evaluate(a, a.checkpoint)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in a.calibration:
            table = os.path.join(tmp, f"dapa16-{n}.h5")
            m = fit(a, a.checkpoint, "dapa", 16, n, table)
            for fixed in (False, True):
                e = evaluate(a, a.checkpoint, "dapa:16" + (":fixed" if fixed else ""), table)
                rows.append({"model": a.model, k["examples"]: n,
                             "precision": "fixed" if fixed else "float", **against(a, base, e),
                             "dwmse": m["dwmse_fixed" if fixed else "dwmse"]})
                print(f"{a.model} {n} {k['examples']} {'fixed' if fixed else 'float'}: "
                      f"{show_value(k, e['value'])}", file=sys.stderr)
    append_rows(os.path.join(a.results, "e4.csv"), rows)
    print("\n".join(e4_table(rows, a.model)))


def summary(a):
    """Markdown tables of everything in --results, for docs/results.md."""
    out = []
    for name, table in (("e1.csv", e1_table), ("e1-softmax.csv", e1_table),
                        ("e1-both.csv", e1_table), ("e4.csv", e4_table)):
        path = os.path.join(a.results, name)
        if os.path.exists(path):
            rows = read_rows(path)
            if name != "e1.csv" and table is e1_table:
                out.append(f"{name[3:-4]} replaced:")
            for model in sorted({r["model"] for r in rows}):
                out += table(rows, model) + [""]
                if table is e1_table and has_flips([r for r in rows if r["model"] == model]):
                    out += table(rows, model, "flips") + [""]
            if table is e1_table and len({r["model"] for r in rows}) > 1:
                out += e1_mean_table(rows, kind_of(rows[0]["model"])["change"]) + [""]
                if has_flips(rows):
                    out += e1_mean_table(rows, "flips") + [""]
    path = os.path.join(a.results, "e3-seeds.csv")
    if os.path.exists(path):
        out += e3_seeds_table(read_rows(path)) + [""]
    path = os.path.join(a.results, "e3.csv")
    if os.path.exists(path):
        out += e3_table(read_rows(path)) + [""]
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__)
    ap.add_argument("step", choices=["e1", "e2", "e3", "e3-seeds", "e4", "summary"])
    ap.add_argument("--data", default=os.path.join(ROOT, "data/fashion-mnist.h5"))
    ap.add_argument("--model", default="vit-nano")
    ap.add_argument("--checkpoint", help="GELU-trained checkpoint (e1, e4)")
    ap.add_argument("--segments", type=int, nargs="+", default=[4, 8, 16, 32])
    ap.add_argument("--calibrate", type=int, default=0,
                    help="calibration images or tokens for e1 (default: 1024 images, 32768 tokens)")
    ap.add_argument("--limit-test", type=int, default=0,
                    help="evaluate on the first N test images (GPT: validation and test tokens)")
    ap.add_argument("--eval-batch", type=int, default=0, help="default: 500 images, 16 windows")
    ap.add_argument("--kinds", nargs="+", default=["pwl", "dapa", "dapa-refined"],
                    choices=["pwl", "dapa", "dapa-refined"], help="approximations (e1)")
    ap.add_argument("--replace", default="act", choices=["act", "softmax", "both"],
                    help="e1, e2: what the tables replace: the GELU (act), the softmax's exp, "
                    "or both")
    ap.add_argument("--calibration", type=int, nargs="+",
                    help="calibration images or tokens (e4; default 1 to 1024 images, 128 to 65536 tokens)")
    ap.add_argument("--gelu", nargs="+", help="run directory of the GELU run (e3; e3-seeds: "
                    "one per seed)")
    ap.add_argument("--slope", nargs="+", help="run directory of the DAPA(16) slope run (e3; "
                    "e3-seeds: the DAPA(16) runs of any variant, one per seed, in --gelu's "
                    "order)")
    ap.add_argument("--fitted", help="run directory of the DAPA(16) fitted run (e3)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build/bin"))
    ap.add_argument("--results", default=os.path.join(ROOT, "experiments/results"))
    a = ap.parse_args()
    k = kind_of(a.model)
    a.calibrate = a.calibrate or k["calibrate"]
    a.calibration = a.calibration or k["calibration"]
    a.eval_batch = a.eval_batch or (500 if k["examples"] == "images" else 16)
    os.makedirs(a.results, exist_ok=True)
    if a.step in ("e1", "e4") and not a.checkpoint:
        ap.error(f"{a.step} needs --checkpoint")
    if a.step == "e3":
        if not (a.gelu and a.slope and a.fitted) or len(a.gelu) + len(a.slope) != 2:
            ap.error("e3 needs one run each of --gelu, --slope and --fitted")
        a.gelu, a.slope = a.gelu[0], a.slope[0]
    if a.step == "e3-seeds" and not (a.gelu and a.slope):
        ap.error("e3-seeds needs --gelu and --slope runs")
    steps = {"e1": e1, "e2": e2, "e3": e3, "e3-seeds": e3_seeds, "e4": e4, "summary": summary}
    steps[a.step](a)


if __name__ == "__main__":
    main()
