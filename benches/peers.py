"""The work `journeyscope bench` times, done by Polars (lazy) and pm4py on
the same generated Parquet file: events deduplicated by id (first in file
order), ordered by customer and time, cut into sessions after 30 idle
minutes, and the transitions between touchpoints (START and END included)
counted, with the customers making each and its median time. Also the
floor in Polars: reading the customer, event and time columns and sorting
them by customer and time.

    python benches/peers.py FILE.parquet [--runs N] [--no-pm4py]   # one JSON object

Run by `journeyscope bench --peers PYTHON`; needs polars, pandas, pm4py.
"""

import json
import sys
import time

GAP_US = 30 * 60 * 1_000_000


def polars_floor(path):
    import polars as pl

    start = time.perf_counter()
    (
        pl.scan_parquet(path)
        .select("customer_id", "event", "timestamp")
        .sort("customer_id", "timestamp")
        .collect()
    )
    return time.perf_counter() - start


def polars_transitions(path):
    import polars as pl

    start = time.perf_counter()
    c, e = pl.col("customer_id"), pl.col("event")
    events = (
        pl.scan_parquet(path)
        .select("customer_id", "event", "timestamp", "event_id")
        .with_row_index("pos")
        .filter(
            c.is_not_null()
            & (c != "")
            & e.is_not_null()
            & (e != "")
            & pl.col("timestamp").is_not_null()
        )
        .unique(subset=["event_id"], keep="first", maintain_order=True)
        .with_columns(t=pl.col("timestamp").dt.epoch("us"))
        .sort("customer_id", "t", "pos")
        .with_columns(
            same_before=c.shift(1) == c,
            same_after=c.shift(-1) == c,
            prev_t=pl.col("t").shift(1),
            next_t=pl.col("t").shift(-1),
            prev_e=e.shift(1),
        )
        .with_columns(
            starts=~pl.col("same_before").fill_null(False)
            | (pl.col("t") - pl.col("prev_t") > GAP_US),
            ends=~pl.col("same_after").fill_null(False)
            | (pl.col("next_t") - pl.col("t") > GAP_US),
        )
    )
    steps = events.select(
        c,
        src=pl.when("starts").then(pl.lit("START")).otherwise("prev_e"),
        dst=e,
        secs=pl.when("starts")
        .then(pl.lit(None, dtype=pl.Float64))
        .otherwise((pl.col("t") - pl.col("prev_t")) / 1e6),
    )
    exits = events.filter("ends").select(
        c, src=e, dst=pl.lit("END"), secs=pl.lit(None, dtype=pl.Float64)
    )
    table = (
        pl.concat([steps, exits])
        .group_by("src", "dst")
        .agg(
            transitions=pl.len(),
            customers=c.n_unique(),
            median_s=pl.col("secs").median(),
        )
        .collect()
    )
    seconds = time.perf_counter() - start
    counts = {
        f"{row['src']} → {row['dst']}": row["transitions"]
        for row in table.iter_rows(named=True)
    }
    return seconds, counts


def pm4py_transitions(path):
    import pandas as pd
    import pm4py

    start = time.perf_counter()
    df = pd.read_parquet(path, columns=["customer_id", "event", "timestamp", "event_id"])
    df["pos"] = range(len(df))
    df = df[
        df.customer_id.notna()
        & (df.customer_id != "")
        & df.event.notna()
        & (df.event != "")
        & df.timestamp.notna()
    ]
    df = df.drop_duplicates(subset=["event_id"], keep="first")
    df = df.sort_values(["customer_id", "timestamp", "pos"], kind="stable")
    t = df.timestamp.dt.as_unit("us").astype("int64")
    new_customer = df.customer_id != df.customer_id.shift(1)
    gap = (t - t.shift(1)) > GAP_US
    df["case"] = (new_customer | gap).cumsum()
    df = df.rename(columns={"timestamp": "time:timestamp", "event": "concept:name"})
    df["case:concept:name"] = df["case"].astype(str)
    dfg, starts, ends = pm4py.discover_dfg(
        df,
        case_id_key="case:concept:name",
        activity_key="concept:name",
        timestamp_key="time:timestamp",
    )
    pm4py.discover_performance_dfg(
        df,
        case_id_key="case:concept:name",
        activity_key="concept:name",
        timestamp_key="time:timestamp",
    )
    seconds = time.perf_counter() - start
    counts = {f"{a} → {b}": n for (a, b), n in dfg.items()}
    counts.update({f"START → {a}": n for a, n in starts.items()})
    counts.update({f"{a} → END": n for a, n in ends.items()})
    return seconds, counts


def best(runs, work):
    """The fastest of `runs` runs of `work` (seconds, what it returned)."""
    outcomes = [work() for _ in range(runs)]
    return min(outcomes, key=lambda o: o[0])


def main():
    path = sys.argv[1]
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 1
    # Imported before anything is timed.
    import pandas  # noqa: F401
    import polars  # noqa: F401

    floor, _ = best(runs, lambda: (polars_floor(path), None))
    polars_s, polars_counts = best(runs, lambda: polars_transitions(path))
    result = {"polars_floor_s": floor, "polars_s": polars_s, "polars_transitions": polars_counts}
    if "--no-pm4py" not in sys.argv:
        import pm4py  # noqa: F401

        pm4py_s, pm4py_counts = best(runs, lambda: pm4py_transitions(path))
        result.update({"pm4py_s": pm4py_s, "pm4py_transitions": pm4py_counts})
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
