"""Text and plot renderings of a simulation report (the dict ``lbcore.sim.simulate`` returns)."""
from __future__ import annotations

__all__ = ["format_report", "plot_report", "plot_figure"]


def _ms(v) -> str:
    return "-" if v is None else (f"{v:.0f}" if v >= 100 else f"{v:.1f}")


def _pct(part, whole) -> str:
    return f"{100.0 * part / whole:5.1f}%" if whole else "    -"


def format_report(r: dict) -> str:
    e = r.get("engine", {})
    o = r["outcomes"]
    n = r["requests"]
    lines = [
        f"lbcore simulate: {r['scenario']} ({r['source']}), seed {r['seed']}",
        f"{n:,} requests over {r['simulated_seconds']:.1f} simulated seconds; "
        f"engine {e.get('loop_seconds', 0):.2f} s = "
        f"{(e.get('requests_per_second') or 0) / 1e6:.2f} M requests/s "
        f"(set-up {e.get('setup_seconds', 0):.2f} s, {r['epochs']} epochs, "
        f"peak {r['peak_in_flight']:,} in flight)",
        f"outcomes: {o['served']:,} served, {o['target_errors']:,} errors at failed targets, "
        f"{o['throttled']:,} throttled (429), {o['fixed_response']:,} fixed responses, "
        f"{o['dns_no_answer']:,} without a DNS answer",
        "",
        "DNS answers by record set",
    ]
    total = sum(d["answers"] for d in r["dns"])
    w = max([len("name")] + [len(d["name"]) for d in r["dns"]])
    wr = max([len("routing")] + [len(d["routing"]) for d in r["dns"]])
    wa = max([len("record set -> alias target")]
             + [len(d["set_identifier"] + d["alias_target"]) + 4 for d in r["dns"]])
    lines.append(f"  {'name':<{w}}  {'routing':<{wr}}  {'record set -> alias target':<{wa}}"
                 f"  {'answers':>11}  {'share':>6}")
    for d in r["dns"]:
        lines.append(f"  {d['name']:<{w}}  {d['routing']:<{wr}}  "
                     f"{d['set_identifier'] + ' -> ' + d['alias_target']:<{wa}}"
                     f"  {d['answers']:>11,}  {_pct(d['answers'], total):>6}")
    if r["throttling"]:
        lines += ["", "Throttled (429) by limit"]
        wl = max([len("limit")] + [len(t["limit"]) for t in r["throttling"]])
        lines.append(f"  {'limit':<{wl}}  {'requests':>11}")
        for t in r["throttling"]:
            lines.append(f"  {t['limit']:<{wl}}  {t['throttled']:>11,}")
    lines += ["", "Target groups and targets"] + _target_table(r["target_groups"])
    if r["events"]:
        lines += ["", "Events, and when health checks see them"]
        rows = [(ev["at"], 0, f"{ev['action']:<18} {ev['what']}") for ev in r["events"]]
        seen: dict = {}
        for h in r.get("health_changes", []):
            seen.setdefault((h["at"], h["seen"], h["target_group"]), []).append(h["target"])
        rows += [(at, 1, f"{'  seen ' + what:<18} {group}: {', '.join(ids)}")
                 for (at, what, group), ids in seen.items()]
        for at, _, text in sorted(rows):
            lines.append(f"  t={at:>7.1f} s  {text}")
    lines.append("")
    lines.append("Latency = client round trip + queueing + service; percentiles are upper edges "
                 "of 1/30-decade bins. Shares of a group are of requests routed to it.")
    return "\n".join(lines)


# numeric columns of the target table: (header, width); latency and outstanding
# percentiles sit under a spanning header each
_COLS = (("requests", 11), ("share", 7), ("errors", 8),
         ("p50", 7), ("p90", 7), ("p99", 7), ("p50", 6), ("p90", 6), ("p99", 6))
_SPANS = (("latency ms", 3, 6), ("outstanding", 6, 9))


def _target_table(groups: list[dict]) -> list[str]:
    """Rows of the target-group table, every value right-aligned under its header."""
    head = "group (algorithm) / target, zone"
    label_w = max([len(head)] + [len(f"{g['name']} ({_kind(g)})") for g in groups]
                  + [len(_target_label(t)) for g in groups for t in g["targets"]]) + 1
    lead = "  "

    def row(label: str, cells: list[str]) -> str:
        return (lead + f"{label:<{label_w}}"
                + "".join(f"{c:>{w}}" for c, (_, w) in zip(cells, _COLS))).rstrip()

    starts, pos = [], len(lead) + label_w
    for _, w in _COLS:
        starts.append(pos)
        pos += w
    span = [" "] * pos
    for text, a, b in _SPANS:
        width = starts[b - 1] + _COLS[b - 1][1] - starts[a]
        span[starts[a]:starts[a] + width] = f"{text:>{width}}"
    out = ["".join(span).rstrip(), row(head, [h for h, _ in _COLS])]
    for g in groups:
        share = "" if g.get("inspection") else _pct(g["share"], 1.0).strip()
        out.append(row(f"{g['name']} ({_kind(g)})", [f"{g['requests']:,}", share]))
        z = g.get("zonal")
        if z:
            out.append("    cross-zone off: " + ", ".join(
                f"{zone} {_pct(n, g['requests']).strip()}" for zone, n in zip(z["zones"], z["requests"])))
        k = g.get("stickiness")
        if k:
            out.append(f"    lb_cookie stickiness {k['duration_seconds']:g} s: "
                       f"{_pct(k['hits'], g['requests']).strip()} cookie hits, "
                       f"{_pct(k['new'], g['requests']).strip()} new, "
                       f"{_pct(k['restuck'], g['requests']).strip()} re-stuck")
        f = g.get("flows")
        if f:
            n = f["tcp_ipv4"] + f["udp_ipv4"] + f["tcp_ipv6"] + f["udp_ipv6"]
            out.append(f"    {f['hash']} hash, cross-zone {'on' if f['cross_zone'] else 'off'}"
                       f" ({len(f['nodes'])} zonal nodes); flows: "
                       f"UDP {_pct(f['udp_ipv4'] + f['udp_ipv6'], n).strip()}, "
                       f"IPv6 {_pct(f['tcp_ipv6'] + f['udp_ipv6'], n).strip()}")
        for t in g["targets"]:
            lat, out_ = t["latency_ms"], t["outstanding"]
            out.append(row(_target_label(t), [
                f"{t['requests']:,}", _pct(t["requests"], g["requests"]).strip(),
                f"{t['errors']:,}", _ms(lat["p50"]), _ms(lat["p90"]), _ms(lat["p99"]),
                _o(out_["p50"]), _o(out_["p90"]), _o(out_["p99"])]))
    return out


def _target_label(t: dict) -> str:
    return f"  {t['id']:<12} {t['az']}"


def _kind(g: dict) -> str:
    if g.get("inspection"):
        return "GWLB inspection, Maglev"
    return "flow hash, Maglev" if g["algorithm"] == "flow_hash" else g["algorithm"]


def _o(v) -> str:
    return "-" if v is None else (f"{v}+" if v >= 1023 else str(v))


def _event_labels(events: list[dict]) -> tuple[list[float], list[str]]:
    """Event times and their labels ("fail web-1c"), events at one time joined."""
    by_time: dict[float, list[str]] = {}
    for ev in events:
        by_time.setdefault(ev["at"], []).append(f"{ev['action']} {ev['what']}")
    times = sorted(by_time)
    return times, ["; ".join(by_time[t]) for t in times]


def plot_report(r: dict, path: str) -> None:
    """Write :func:`plot_figure` of ``r`` to ``path`` (PNG, PDF, SVG: by the suffix)."""
    import matplotlib.pyplot as plt
    fig = plot_figure(r)
    fig.savefig(path, bbox_inches="tight", dpi=100)
    plt.close(fig)


def plot_figure(r: dict):
    """A matplotlib figure of the load per target over time, one panel per target
    group; every event is a dotted line, labelled along the top axis; legends sit right
    of the panels, off the data. Needs matplotlib (uses the Agg backend)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lot = r["load_over_time"]
    width = lot["bin_seconds"]
    groups = r["target_groups"]
    end = r["simulated_seconds"]
    times, labels = _event_labels(r["events"])
    fig, axes = plt.subplots(len(groups), 1, figsize=(11, 2.2 * len(groups) + 1.2),
                             sharex=True, squeeze=False)
    k = 0
    for ax, g in zip(axes[:, 0], groups):
        for t in g["targets"]:
            counts = lot["counts"][k]
            k += 1
            keep = [i for i in range(len(counts)) if (i + 1) * width <= end]  # whole bins
            ax.plot([(i + 0.5) * width for i in keep], [counts[i] / width for i in keep],
                    label=t["id"], lw=1)
        for at in times:
            ax.axvline(at, color="grey", ls=":", lw=0.8)
        ax.set_ylabel("req/s")
        ax.set_title(f"{g['name']} ({_kind(g)}): requests served per second", fontsize=9,
                     loc="left")
        ax.set_xlim(0, end)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                  borderaxespad=0.0)
    if times:
        top = axes[0, 0].secondary_xaxis("top")
        top.set_xticks(times)
        top.set_xticklabels(labels, fontsize=7)
        plt.setp(top.get_xticklabels(), rotation=35, ha="left", rotation_mode="anchor")
    axes[-1, 0].set_xlabel("simulated time (s); dotted lines: the events labelled at the top")
    fig.tight_layout()
    return fig
