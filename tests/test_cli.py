"""The command line teaches: every command has help with examples, and failures are one clear line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sitless.cli import build_parser, main

EXPECTED_COMMANDS = {
    "demo",
    "run",
    "replay",
    "simulate",
    "classify",
    "convert",
    "calibrate",
    "scan",
    "sensors",
    "record",
    "report",
}


def subcommands() -> dict[str, object]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return dict(action.choices)


def test_every_documented_command_exists() -> None:
    assert set(subcommands()) >= EXPECTED_COMMANDS


@pytest.mark.parametrize("command", sorted(EXPECTED_COMMANDS))
def test_every_command_help_has_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "example" in text.lower(), f"`sitless {command} --help` shows no examples"


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "sitless demo" in capsys.readouterr().out


def test_console_script_entry_point_runs() -> None:
    done = subprocess.run([sys.executable, "-m", "sitless", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("sitless ")


def test_verbose_adds_the_debug_lines_of_sitless(tmp_path) -> None:
    """``-v`` used to change nothing (it set INFO, the default); now it shows sitless's debug lines."""
    from sitless.firmware_bridge.recordings import write_recording
    from sitless.firmware_bridge.simulate import SimulationConfig, simulate

    recording = tmp_path / "short.npz"
    write_recording(recording, simulate(SimulationConfig(hours=0.25, rate_hz=12.5, seed=4)).samples)
    env_config = tmp_path / "config.toml"
    env_config.write_text('[alerts]\ntimezone = "UTC"\n')

    def replay(*flags: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "sitless", *flags, "replay", str(recording), "--store", str(tmp_path / f"{len(flags)}.db"),
             "--config", str(env_config)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stderr

    quiet, verbose = replay(), replay("-v")
    assert " DEBUG sitless." not in quiet and " DEBUG sitless." in verbose


def test_top_level_help_lines_are_each_commands_own_help() -> None:
    """`sitless --help` lists the commands from ``SUMMARIES`` without importing them (start-up time);
    the lines must stay what each command module says of itself."""
    from sitless.cli import SUMMARIES

    action = next(a for a in build_parser()._actions if a.dest == "command")
    own_help = {choice.dest: choice.help for choice in action._choices_actions}
    for name, line in own_help.items():
        assert SUMMARIES.get(name) == line, f"put {name!r}: {line!r} into sitless.cli.SUMMARIES"
    assert set(SUMMARIES) == set(own_help)


def test_help_does_not_import_numpy() -> None:
    """`sitless --help` and `sitless classify --help` stay fast (about 0.1 s over a bare Python) because
    neither imports numpy, the classifier, bleak or paho."""
    probe = (
        "import sys\nfrom sitless.cli import main\n"
        "for argv in ([], ['classify', '--help']):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "heavy = [m for m in ('numpy', 'bleak', 'paho', 'sitless.analysis.classify') if m in sys.modules]\n"
        "print(heavy, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stderr.strip().splitlines()[-1] == "[]"
