"""Reading the Procfile and deriving the baseline apps' commands from the service's."""

from __future__ import annotations

from pathlib import Path

from bench.procs import (
    DEFAULT_COMMANDS,
    POOL_APP,
    app_command,
    is_simple_command,
    read_procfile,
    service_commands,
)


def test_procfile_lines_are_read_and_defaults_fill_gaps(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text(
        "# comment\n\nweb: gunicorn -w 4 'webapp:create_app()'\nrelease: true\n")
    assert read_procfile(tmp_path / "Procfile")["web"] == "gunicorn -w 4 'webapp:create_app()'"
    commands = service_commands(tmp_path)
    assert commands["supervisor"] == DEFAULT_COMMANDS["supervisor"]
    assert commands["web"] == "gunicorn -w 4 'webapp:create_app()'"


def test_missing_procfile_gives_the_defaults(tmp_path: Path) -> None:
    assert service_commands(tmp_path) == DEFAULT_COMMANDS


def test_echo_keeps_the_service_options_and_swaps_the_app(tmp_path: Path) -> None:
    (tmp_path / "webapp").mkdir()
    (tmp_path / "webapp" / "gunicorn_conf.py").write_text("workers = 2\n")
    web = "gunicorn -c webapp/gunicorn_conf.py -w 3 'webapp:create_app()'"
    command = app_command(tmp_path, web)
    assert command == "gunicorn -c webapp/gunicorn_conf.py -w 3 bench.echo_app:app"


def test_echo_drops_a_settings_file_that_does_not_exist(tmp_path: Path) -> None:
    command = app_command(tmp_path, DEFAULT_COMMANDS["web"])
    assert command == "gunicorn bench.echo_app:app"


def test_the_pool_app_gets_the_same_options(tmp_path: Path) -> None:
    command = app_command(tmp_path, "gunicorn -w 3 --threads 8 'webapp:create_app()'", POOL_APP)
    assert command == "gunicorn -w 3 --threads 8 bench.pool_app:app"


def test_operators_inside_quotes_keep_a_command_simple() -> None:
    assert is_simple_command("gunicorn -c x.py 'webapp:create_app()'")
    assert is_simple_command("python3 -m supervisor")
    assert not is_simple_command("a && b")
    assert not is_simple_command("a | b")
    assert not is_simple_command("a > log")
