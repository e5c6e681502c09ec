"""Fuzz the CLI: whatever the arguments, `notify send` and `notify user set` end with an exit
code (0, 1 or 2) and at most one readable error line, never a traceback."""

from __future__ import annotations

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ARG = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


def _run(args: list[str]):
    import typer

    import cli

    return CliRunner().invoke(typer.main.get_command(cli.app), args, prog_name="notify")


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(type_=ARG, priority=ARG, channel=ARG, payload=ARG)
def test_send_with_any_values(stack_env, monkeypatch, type_, priority, channel, payload) -> None:
    for name, value in stack_env.items():
        monkeypatch.setenv(name, value)
    result = _run(
        ["send", "--user", "fuzz-cli", "--type", type_, "--priority", priority, "--channel",
         channel, "--payload", payload, "--timeout", "0.2"]
    )  # fmt: skip
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(user=ARG, webhook=ARG, mute=ARG)
def test_user_set_with_any_values(stack_env, monkeypatch, user, webhook, mute) -> None:
    for name, value in stack_env.items():
        monkeypatch.setenv(name, value)
    result = _run(["user", "set", user, "--discord-webhook", webhook, "--mute", mute])
    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
