"""bench/RESULTS.md: machine info, a summary table, then each benchmark's figures.

A full run writes the file; an ``--only`` run merges its sections into the existing file.
"""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import subprocess

from .common import Section, verdict


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            kib = int(meminfo.readline().split()[1])
        return f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        return "unknown"


def _redis_version() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        return "unknown"
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    for part in out.stdout.split():
        if part.startswith("v="):
            return part[2:]
    return out.stdout.strip()


def _load(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{value:.2f}" for value in values)


def machine_info(
    started: float,
    load_start: tuple[float, float, float],
    load_end: tuple[float, float, float],
    duration: float,
    quick: bool,
) -> list[tuple[str, str]]:
    when = datetime.datetime.fromtimestamp(started, tz=datetime.UTC)
    return [
        ("date", when.strftime("%Y-%m-%d %H:%M UTC")),
        ("machine", f"{_cpu_model()}, {os.cpu_count()} CPUs, {_memory_gib()} RAM"),
        ("system", f"{platform.system()} {platform.release()}"),
        ("python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("redis-server", _redis_version()),
        ("load average (1/5/15 min) at start", _load(load_start)),
        ("load average (1/5/15 min) at end", _load(load_end)),
        ("whole run", f"{duration:.0f} s" + (" (--quick smoke run)" if quick else "")),
    ]


def _section_lines(section: Section) -> list[str]:
    lines = [f"## {section.title}", "", f"Goal: {section.goal} — {verdict(section.met)}.", ""]
    if section.rows:
        lines += ["| figure | value |", "|---|---|"]
        lines += [f"| {name} | {value} |" for name, value in section.rows]
        lines.append("")
    lines += [f"- {note}" for note in section.notes]
    if section.notes:
        lines.append("")
    return lines


def _summary_row(section: Section) -> str:
    return f"| {section.title} | {section.goal} | {section.headline} | {verdict(section.met)} |"


def merge(existing: str, sections: list[Section], info: list[tuple[str, str]]) -> str:
    """``existing`` RESULTS.md with ``sections`` (an ``--only`` run) put in place of their old
    versions, or appended; the other benchmarks' figures and the full run's header are kept.
    Each merged section says when and under what load it was measured."""
    lines = existing.rstrip("\n").split("\n")
    run = "; ".join(f"{name} {value}" for name, value in info if name != "machine")
    for section in sections:
        section.notes.append(f"Measured in a separate `--only {section.key}` run: {run}.")
        prefix = f"| {section.title} |"
        summary = [i for i, line in enumerate(lines) if line.startswith(prefix)]
        if summary:
            lines[summary[0]] = _summary_row(section)
        else:
            start = lines.index("## Summary")
            end = start + 1
            while end < len(lines) and not lines[end].startswith("## "):
                end += 1
            last_row = max(i for i in range(start, end) if lines[i].startswith("|"))
            lines.insert(last_row + 1, _summary_row(section))
        heading = f"## {section.title}"
        body = _section_lines(section)
        if heading in lines:
            start = lines.index(heading)
            end = start + 1
            while end < len(lines) and not lines[end].startswith("## "):
                end += 1
            lines[start:end] = body
        else:
            lines += ["", *body]
    return "\n".join(line for line in lines).rstrip("\n") + "\n"


def render(sections: list[Section], info: list[tuple[str, str]]) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `scripts/bench` (one command: it starts its own redis-server and emulator, "
        "runs every benchmark and writes this file). The machines are shared and noisy, so every "
        "timing is a ratio to a baseline measured in the same run, as medians over interleaved "
        "trials; the other figures are counts. Other work was running on the machine during "
        "this run — see the load averages.",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in info),
        "",
        "## Summary",
        "",
        "| benchmark | goal | result | verdict |",
        "|---|---|---|---|",
        *(f"| {s.title} | {s.goal} | {s.headline} | {verdict(s.met)} |" for s in sections),
        "",
    ]
    for section in sections:
        lines += _section_lines(section)
    return "\n".join(lines)
