"""`notify …` as a user types it: real subprocesses against the real pipeline."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT, free_port

ORDER = '{"symbol": "BTC/USDT", "side": "buy", "fill_quantity": "0.5", "fill_price": "50000", "exchange": "binance"}'


def notify(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_user_set_then_show(stack_env, new_id):
    user = new_id("cli")
    done = notify(
        stack_env,
        "user",
        "set",
        user,
        "--discord-webhook",
        "https://discord.example/api/webhooks/1/x",
        "--push-token",
        "tok-a",
        "--push-token",
        "tok-b",
        "--mute",
        "EMAIL:STRATEGY_LOG",
    )
    assert done.returncode == 0, done.stderr
    shown = notify(stack_env, "user", "show", user)
    assert shown.returncode == 0
    assert "discord_webhook: https://discord.example/api/webhooks/1/x" in shown.stdout
    assert "push_tokens:     tok-a, tok-b" in shown.stdout
    assert "muted:           EMAIL:STRATEGY_LOG" in shown.stdout
    removed = notify(
        stack_env,
        "user",
        "set",
        user,
        "--remove-push-token",
        "tok-a",
        "--unmute",
        "EMAIL:STRATEGY_LOG",
    )
    assert "push_tokens:     tok-b" in removed.stdout
    assert "muted:           -" in removed.stdout


def test_user_verify_sends_a_test_through_each_channel_and_show_prints_when(
    stack_env, clean_sandbox, new_id
):
    user = new_id("verify")
    chat = str(abs(hash(user)) % 10**9 + 10**9)
    discord = f"{clean_sandbox.url}/discord/api/webhooks/9/{user}"
    done = notify(
        stack_env, "user", "set", user, "--telegram-chat", chat, "--email", f"{user}@example.com",
        "--discord-webhook", discord, "--quiet", "23:00-07:00", "--tz", "Europe/Berlin",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "quiet:           23:00-07:00" in done.stdout
    assert "timezone:        Europe/Berlin" in done.stdout
    clean_sandbox.state.set_switch("discord", "server_error")

    verified = notify(stack_env, "user", "verify", user)
    assert verified.returncode == 1, verified.stdout + verified.stderr
    lines = verified.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:-1]] == [
        ["TELEGRAM", "ok"],
        ["EMAIL", "ok"],
        ["DISCORD", "FAILED"],
    ]
    assert lines[-1] == "2 of 3 channels verified"
    [message] = clean_sandbox.state.sent_to(int(chat))
    assert message["text"].startswith("Test notification")
    assert clean_sandbox.state.requests("sendgrid"), "the email went to the provider"

    shown = notify(stack_env, "user", "show", user).stdout
    [line] = [line for line in shown.splitlines() if line.startswith("verified:")]
    assert "TELEGRAM 20" in line and "EMAIL 20" in line and "DISCORD" not in line
    assert notify(stack_env, "user", "verify", new_id("nobody")).returncode == 1
    bare = new_id("bare")
    notify(stack_env, "user", "set", bare)
    assert notify(stack_env, "user", "verify", bare).returncode == 2


def test_user_set_refuses_bad_input_with_one_line(stack_env):
    done = notify(
        stack_env,
        "user",
        "set",
        "bad user!",
        "--slack-webhook",
        "https://hooks.slack.com/services/a",
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "notify: user id must be 1-128 characters of [A-Za-z0-9._:@-]: 'bad user!'"
    ]
    assert notify(stack_env, "user", "show", "nobody-at-all").returncode == 1
    for quiet in (["--quiet", "23:00-7"], ["--quiet", "23:00-07:00", "--tz", "Mars/Base"]):
        done = notify(stack_env, "user", "set", "someone", *quiet)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.broker
def test_send_critical_prints_queued_then_delivered(pipeline, stack_env, store, new_id):
    user = new_id("clisend")
    store.directory.update(user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/5/{user}")
    done = notify(
        stack_env,
        "send",
        "--user",
        user,
        "--type",
        "ORDER_FILLED",
        "--priority",
        "CRITICAL",
        "--channel",
        "DISCORD",
        "--payload",
        ORDER,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["QUEUED", "DELIVERED via DISCORD"]
    [request] = pipeline.state.requests("discord")
    assert request["json"]["content"] == "Order filled — BUY 0.5 BTC/USDT @ 50000 (binance)"


@pytest.mark.broker
def test_send_ack_error_exits_1(pipeline, stack_env, new_id):
    done = notify(
        stack_env,
        "send",
        "--user",
        new_id("clierr"),
        "--type",
        "ORDER_FILLED",
        "--priority",
        "CRITICAL",
        "--channel",
        "DISCORD",
        "--channel",
        "SLACK:active",
    )
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "QUEUED",
        "ACK_ERROR: no address for any requested channel: DISCORD; SLACK: skipped (only_if_active: SLACK has no sessions)",
    ]


@pytest.mark.broker
def test_send_informational_exits_0_once_sent(pipeline, stack_env, new_id):
    done = notify(
        stack_env,
        "send",
        "--user",
        new_id("cliinfo"),
        "--type",
        "STRATEGY_LOG",
        "--priority",
        "INFORMATIONAL",
        "--payload",
        '{"message": "hello"}',
    )
    assert done.returncode == 0
    assert "sent (INFORMATIONAL: no ack)" in done.stdout


def test_send_times_out_with_exit_2(stack_env):
    env = {**stack_env, "NOTIFY_INGRESS_ROUTER": f"tcp://127.0.0.1:{free_port()}"}
    done = notify(
        env,
        "send",
        "--user",
        "u1",
        "--type",
        "ORDER_FILLED",
        "--priority",
        "CRITICAL",
        "--timeout",
        "1",
    )
    assert done.returncode == 2
    assert "timeout: no final ack" in done.stderr


def test_send_refuses_unknown_names_with_a_clear_error(stack_env):
    done = notify(stack_env, "send", "--user", "u1", "--type", "ORDER_EXPLODED")
    assert done.returncode == 2
    assert "unknown event type 'ORDER_EXPLODED'" in done.stderr
    done = notify(
        stack_env, "send", "--user", "u1", "--type", "ORDER_FILLED", "--channel", "PIGEON"
    )
    assert done.returncode == 2
    assert "'PIGEON': use NAME or NAME:active" in done.stderr
    done = notify(stack_env, "send", "--user", "u1", "--type", "ORDER_FILLED", "--payload", "[1]")
    assert done.returncode == 2
    assert "must be a JSON object" in done.stderr


@pytest.mark.broker
def test_send_events_file_prints_each_ack_and_a_summary(
    pipeline, stack_env, store, new_id, tmp_path
):
    user, stranger = new_id("clibatch"), new_id("clinobody")
    store.directory.update(user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/5/{user}")
    lines = [
        {"user_id": user, "event_type": "ORDER_FILLED", "priority": "CRITICAL",
         "channels": ["DISCORD"], "payload": json.loads(ORDER), "event_id": f"{user}-1"},
        {"user_id": user, "event_type": "ALERT_TRIGGERED", "priority": "NORMAL",
         "channels": ["DISCORD"], "payload": {"symbol": "ETH/USDT"}, "event_id": f"{user}-2"},
        {"user_id": stranger, "event_type": "ORDER_FILLED", "priority": "CRITICAL",
         "channels": ["DISCORD"], "event_id": f"{stranger}-3"},
        {"user_id": user, "event_type": "STRATEGY_LOG", "priority": "INFORMATIONAL"},
    ]  # fmt: skip
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    done = notify(stack_env, "send", "--events", str(path))
    assert done.returncode == 1, done.stderr  # one ACK_ERROR
    out = done.stdout.splitlines()
    assert f"{user}-1 DELIVERED via DISCORD" in out
    assert f"{user}-2 DELIVERED via DISCORD" in out
    assert f"{stranger}-3 ACK_ERROR: no address for any requested channel: DISCORD" in out
    assert out.index(f"{user}-1 QUEUED") < out.index(f"{user}-1 DELIVERED via DISCORD")
    assert "DELIVERED 2 (DISCORD 2)" in out
    assert "  1 x no address for any requested channel: DISCORD" in out
    assert "INFORMATIONAL 1 (sent, no ack)" in out


@pytest.mark.broker
def test_send_reads_its_ingress_list_from_notify_client_ingress(
    pipeline, stack_env, settings, store, new_id
):
    user = new_id("clifail")
    store.directory.update(user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/5/{user}")
    dead = f"tcp://127.0.0.1:{free_port()}"
    env = {**stack_env, "NOTIFY_CLIENT_INGRESS": f"{dead}, {settings.router_connect}"}
    args = ["--type", "ORDER_FILLED", "--priority", "CRITICAL", "--channel", "DISCORD"]
    done = notify(env, "send", "--user", user, *args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "DELIVERED via DISCORD"


def test_send_events_file_says_why_informational_events_were_dropped(stack_env, tmp_path):
    path = tmp_path / "events.jsonl"
    line = {"user_id": "u1", "event_type": "STRATEGY_LOG", "priority": "INFORMATIONAL"}
    path.write_text(json.dumps(line) + "\n")
    env = {**stack_env, "NOTIFY_CLIENT_INGRESS": f"tcp://127.0.0.1:{free_port()}"}
    done = notify(env, "send", "--events", str(path))
    assert done.returncode == 2, done.stderr
    assert "INFORMATIONAL 1 dropped: no ingress connected within 5s" in done.stdout.splitlines()


def test_send_help_shows_a_line_of_an_events_file(stack_env):
    done = notify(stack_env, "send", "--help")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "A line of fills.jsonl" in text
    assert '{"user_id": "alice", "event_type": "ORDER_FILLED", "priority": "CRITICAL",' in text
    assert "NOTIFY_CLIENT_INGRESS" in text


GOOD_LINE = {
    "user_id": "u1",
    "event_type": "ORDER_FILLED",
    "priority": "CRITICAL",
    "event_id": "e1",
}


@pytest.mark.parametrize(
    ("second", "problem"),
    [
        ({**GOOD_LINE, "priority": "URGENT"}, "unknown priority 'URGENT'; one of INFORMATIONAL, NORMAL, CRITICAL"),
        (GOOD_LINE, "event_id 'e1' comes twice"),
        ({**GOOD_LINE, "event_id": 5}, "event_id must be a string"),
        ({**GOOD_LINE, "event_id": "e2", "channels": 5}, "channels must be a list of names"),
        ({**GOOD_LINE, "event_id": "e2", "colour": "red"}, "unknown field 'colour'"),
        ([1, 2], "each line must be a JSON object"),
    ],
)  # fmt: skip
def test_send_events_file_refuses_a_bad_line_before_sending_anything(
    stack_env, tmp_path, second, problem
):
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(GOOD_LINE) + "\n" + json.dumps(second) + "\n")
    done = notify(stack_env, "send", "--events", str(path))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"notify: {path} line 2: {problem}"]
    assert done.stdout == ""


def _command_paths() -> list[tuple[str, ...]]:
    """Every command of `notify`, as the words that name it (the group itself is ())."""
    import click
    import typer

    import cli

    paths: list[tuple[str, ...]] = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(cli.app), ())
    return paths


def test_every_command_has_an_example_on_lines_of_its_own(stack_env):
    import typer
    from click.testing import CliRunner

    import cli

    runner = CliRunner()
    group = typer.main.get_command(cli.app)
    for path in _command_paths():
        text = runner.invoke(group, [*path, "--help"], prog_name="notify").output
        lines = text.splitlines()
        heads = [i for i, line in enumerate(lines) if line.strip() in ("Example:", "Examples:")]
        assert heads, f"`notify {' '.join(path)} --help` has no example:\n{text}"
        example = lines[heads[0] + 1]
        assert example.startswith("    ") and "notify" in example, (path, example)
    # The top-level help keeps each example on a line of its own.
    top = notify(stack_env, "--help").stdout
    assert "\n    notify user set alice --discord-webhook" in top
    assert "\n    notify send --user alice" in top

    # The processes' own entry points too; --help starts nothing (no Redis answers here).
    nowhere = {**stack_env, "NOTIFY_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    script = os.path.join(os.path.dirname(sys.executable), "notify-ingress")
    for args, word in (
        ([sys.executable, "-m", "ingress"], "notify-ingress"),
        ([script], "notify-ingress"),
        ([sys.executable, "-m", "sessions"], "python -m sessions"),
        ([sys.executable, "-m", "telegram_bot"], "python -m telegram_bot"),
    ):
        done = subprocess.run(
            [*args, "--help"], cwd=ROOT, env={**os.environ, **nowhere},
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert (done.returncode, done.stderr) == (0, ""), (args, done.stderr)
        lines = done.stdout.splitlines()
        heads = [i for i, line in enumerate(lines) if line.strip() == "Example:"]
        assert heads, f"`{' '.join(args)} --help` has no example:\n{done.stdout}"
        example = lines[heads[0] + 1]
        assert example.startswith("    ") and word in example, (args, example)


def test_keys_server_add_list_revoke(stack_env, store):
    server = notify(stack_env, "keys", "server")
    assert server.returncode == 0
    public, secret = server.stdout.split()
    assert len(public) == len(secret) == 40  # Z85 of 32 bytes

    added = notify(stack_env, "keys", "add", "alice-keys")
    key = added.stdout.split()[0]
    subscriber = notify(stack_env, "keys", "add", "--subscriber", "sessions-1").stdout.split()[0]
    listed = notify(stack_env, "keys", "list").stdout
    assert f"{key} container alice-keys" in listed
    assert f"{subscriber} subscriber sessions-1" in listed

    assert notify(stack_env, "keys", "revoke", "--", key).returncode == 0
    assert key not in notify(stack_env, "keys", "list").stdout
    gone = notify(stack_env, "keys", "revoke", "--", key)
    assert (gone.returncode, gone.stderr.strip()) == (1, f"notify: no such key: {key}")
    both = notify(stack_env, "keys", "add", "bob", "--subscriber", "x")
    assert both.returncode == 2
    assert "exactly one of USER_ID, --subscriber NAME, --any-user NAME" in both.stderr


def test_demo_refuses_to_send_to_real_providers(stack_env, sandbox):
    real = {
        **stack_env,
        "NOTIFY_SANDBOX_URL": sandbox.url,
        "NOTIFY_TELEGRAM_API_URL": "https://api.telegram.org",
    }
    done = notify(real, "demo", "--duration", "1")
    assert done.returncode == 2
    assert done.stderr.strip().startswith(
        "notify: providers other than the sandbox are configured (Telegram):"
    )
