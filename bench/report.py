"""bench/RESULTS.md: machine info, a summary table, then each benchmark's figures."""

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
        lines += [f"## {section.title}", "", f"Goal: {section.goal} — {verdict(section.met)}.", ""]
        if section.rows:
            lines += ["| figure | value |", "|---|---|"]
            lines += [f"| {name} | {value} |" for name, value in section.rows]
            lines.append("")
        lines += [f"- {note}" for note in section.notes]
        if section.notes:
            lines.append("")
    return "\n".join(lines)
