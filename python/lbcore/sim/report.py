"""Text and plot renderings of a simulation report (the dict ``lbcore.sim.simulate`` returns)."""
from __future__ import annotations

__all__ = ["format_report", "plot_report"]


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
    w = max(len(d["name"]) for d in r["dns"])
    wa = max(24, max(len(d["set_identifier"] + d["alias_target"]) + 4 for d in r["dns"]))
    for d in r["dns"]:
        lines.append(f"  {d['name']:<{w}}  {d['routing']:<12}  "
                     f"{d['set_identifier'] + ' -> ' + d['alias_target']:<{wa}} "
                     f"{d['answers']:>11,}  {_pct(d['answers'], total)}")
    if r["throttling"]:
        lines += ["", "Throttled (429) by limit"]
        wl = max(len(t["limit"]) for t in r["throttling"])
        for t in r["throttling"]:
            lines.append(f"  {t['limit']:<{wl}}  {t['throttled']:>11,}")
    lines += ["", "Target groups and targets   requests   share  errors   "
                  "latency ms p50/p90/p99   outstanding p50/p90/p99"]
    for g in r["target_groups"]:
        lat, out = g["latency_ms"], g["outstanding"]
        kind = _kind(g)
        share = "" if g.get("inspection") else _pct(g["share"], 1.0)
        lines.append(f"  {g['name'] + ' (' + kind + ')':<42} {g['requests']:>10,}  {share}")
        z = g.get("zonal")
        if z:
            lines.append("    cross-zone off: " + ", ".join(
                f"{zone} {_pct(n, g['requests']).strip()}" for zone, n in zip(z["zones"], z["requests"])))
        k = g.get("stickiness")
        if k:
            lines.append(f"    lb_cookie stickiness {k['duration_seconds']:g} s: "
                         f"{_pct(k['hits'], g['requests']).strip()} cookie hits, "
                         f"{_pct(k['new'], g['requests']).strip()} new, "
                         f"{_pct(k['restuck'], g['requests']).strip()} re-stuck")
        f = g.get("flows")
        if f:
            n = f["tcp_ipv4"] + f["udp_ipv4"] + f["tcp_ipv6"] + f["udp_ipv6"]
            lines.append(f"    {f['hash']} hash, cross-zone {'on' if f['cross_zone'] else 'off'}"
                         f" ({len(f['nodes'])} zonal nodes); flows: "
                         f"UDP {_pct(f['udp_ipv4'] + f['udp_ipv6'], n).strip()}, "
                         f"IPv6 {_pct(f['tcp_ipv6'] + f['udp_ipv6'], n).strip()}")
        for t in g["targets"]:
            lat, out = t["latency_ms"], t["outstanding"]
            lines.append(
                f"    {t['id']:<12} {t['az']:<11} {t['requests']:>11,}  {_pct(t['requests'], g['requests'])}"
                f"  {t['errors']:>6,}   {_ms(lat['p50']):>6} {_ms(lat['p90']):>6} {_ms(lat['p99']):>6}"
                f"   {_o(out['p50']):>5} {_o(out['p90']):>5} {_o(out['p99']):>5}")
    if r.get("flow_remaps"):
        lines += ["", "Flows remapped when a flow-hash group's healthy targets change"]
        for m in r["flow_remaps"]:
            lines.append(f"  t={m['at']:>7.1f} s  {m['target_group']:<14} "
                         f"{m['targets_before']} -> {m['targets_after']} targets: "
                         f"{100 * m['moved']:5.1f}% of flows moved (optimum {100 * m['optimum']:5.1f}%)")
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


def _kind(g: dict) -> str:
    if g.get("inspection"):
        return "GWLB inspection, Maglev"
    return "flow hash, Maglev" if g["algorithm"] == "flow_hash" else g["algorithm"]


def _o(v) -> str:
    return "-" if v is None else (f"{v}+" if v >= 1023 else str(v))


def plot_report(r: dict, path: str) -> None:
    """Load per target over time, events marked; needs matplotlib."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lot = r["load_over_time"]
    width = lot["bin_seconds"]
    groups = r["target_groups"]
    fig, axes = plt.subplots(len(groups), 1, figsize=(10, 2.2 * len(groups)), sharex=True,
                             squeeze=False)
    k = 0
    for ax, g in zip(axes[:, 0], groups):
        for t in g["targets"]:
            counts = lot["counts"][k]
            k += 1
            end = r["simulated_seconds"]
            keep = [i for i in range(len(counts)) if (i + 1) * width <= end]  # whole bins
            ax.plot([(i + 0.5) * width for i in keep], [counts[i] / width for i in keep],
                    label=t["id"], lw=1)
        for ev in r["events"]:
            ax.axvline(ev["at"], color="grey", ls=":", lw=0.8)
        ax.set_ylabel("req/s")
        kind = _kind(g)
        ax.set_title(f"{g['name']} ({kind}): requests served per second", fontsize=9)
        ax.set_xlim(0, r["simulated_seconds"])
        ax.legend(fontsize=7, ncol=6, loc="upper right")
    axes[-1, 0].set_xlabel("simulated time (s); dotted lines: events")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
