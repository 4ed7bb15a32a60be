"""A bisection told as steps a maintainer can follow and paste upstream."""

from __future__ import annotations

from kit.engine.bisect import Bisection, Flip, ProbeResult, VersionBisection


def render(b: Bisection, *, title: str) -> str:
    g, bad = b.good, b.bad
    diff = [a for a in g.values if g.values[a] != bad.values[a]]
    lines = [
        f"# kit bisect: {title}",
        "",
        f"- good: `{_cell(g)}` → **{g.outcome}**" + _why(g),
        f"- bad: `{_cell(bad)}` → **{bad.outcome}**" + _why(bad),
        "- they differ in: " + ", ".join(f"{a} ({g.values[a]} → {bad.values[a]})"
                                         for a in diff),
        "",
        "## Finding",
        "",
    ]
    if not b.flips:
        lines.append(f"No set of up to {b.searched_up_to} axis changes turns {g.outcome} "
                     f"into {bad.outcome}: it takes more axes together, or a probe was flaky "
                     "or gave a third outcome (see the probes).")
    for flip in b.flips:
        lines.append(f"- {_sentence(flip, g.outcome, bad.outcome)}")
    if b.inert:
        lines.append(f"- {', '.join(b.inert)}: "
                     + ("makes" if len(b.inert) == 1 else "make")
                     + " no difference on its own.")
    lines += ["", "## Probes", "", "| # | changed from the good cell | outcome | cell |",
              "|---|---|---|---|"]
    for i, p in enumerate(b.probes, 1):
        changed = ", ".join(f"{a}={v}" for a, v in p.values.items()
                            if v != g.values.get(a)) or "(the good cell)"
        if p.values == bad.values and i > 2:  # a probe that lands on an end reuses its result
            changed += " (the bad cell)"
        seen = f" ({', '.join(p.seen)})" if len(set(p.seen)) > 1 else ""
        lines.append(f"| {i} | {changed} | {p.outcome}{seen} | `{p.cell_id}` |")
    repeats = max((len(p.seen) for p in b.probes), default=1)
    lines += ["", f"Every probe ran {repeats}× and counted only when all runs agreed."
              if repeats > 1 else "Every probe ran once.", ""]
    return "\n".join(lines)


def _sentence(flip: Flip, old: str, new: str) -> str:
    parts = [f"{a}: {gv} → {bv}" for a, (gv, bv) in flip.changes.items()]
    if len(parts) == 1:
        text = f"**{parts[0]}** alone turns {old} into {new}"
    else:
        text = f"**{' together with '.join(parts)}** turn {old} into {new}; none of them " \
               "does alone (an interaction)"
    if flip.necessary:
        text += f"; reverting {'it' if len(parts) == 1 else 'them'} in the bad cell gives " \
                f"{old} again"
    elif flip.necessary is False:
        text += f"; reverting {'it' if len(parts) == 1 else 'them'} in the bad cell does not " \
                f"give {old} (other axes also lead there)"
    if flip.edge:
        text += f". Along that axis it changes between {flip.edge[0]} and {flip.edge[1]}"
    return text + "."


def _cell(p: ProbeResult) -> str:
    return ", ".join(f"{a}={v}" for a, v in p.values.items())


def _why(p: ProbeResult) -> str:
    return f" ({p.reason})" if p.reason else ""


def render_commits(v: VersionBisection, *, title: str, repo: str) -> str:
    lines = [
        f"# kit bisect: {title} across CUTLASS commits",
        "",
        f"- repository: {repo}",
        f"- old: `{v.commits[0][:12]}` → **{v.old.outcome}**" + _why(v.old),
        f"- new: `{v.commits[-1][:12]}` → **{v.new.outcome}**" + _why(v.new),
        f"- {len(v.commits)} commits from old to new; {len(v.probes)} probes",
        "",
        "## Finding",
        "",
    ]
    if v.first:
        lines.append(f"**{v.first[:12]}** ({v.subjects.get(v.first, '')}) is the first commit "
                     f"where the cell is {v.new.outcome}; the commit before it gives "
                     f"{v.old.outcome}.")
    else:
        lines.append("Undecided: the commits around the change gave a third outcome (skipped, "
                     "as git bisect's exit 125).")
    lines += ["", "## Probes", "", "| commit | subject | outcome |", "|---|---|---|"]
    for p in v.probes:
        sha = p.values["cutlass"]
        lines.append(f"| `{sha[:12]}` | {v.subjects.get(sha, '')} | {p.outcome} |")
    return "\n".join(lines) + "\n"
