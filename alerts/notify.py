"""Prompts to push services and the desktop through apprise (table ``[notify]``), with retries off the hot path.

Why apprise: one well-kept library speaks ntfy, Gotify, Pushover, Telegram, Matrix, e-mail and about a
hundred more, each from one URL (``ntfys://ntfy.example.org/my-secret-topic``), so sitless needs no code
per service. ``desktop://`` is sitless's own apprise plugin (``sitless.alerts.desktop``): a freedesktop
notification over D-Bus through dbus-fast, which bleak already brings; apprise's own ``dbus://`` and
``glib://`` need dbus-python or PyGObject, C extensions that pip cannot install without the system's
development headers. Both work if installed: every URL goes to apprise as it is.

Why a worker thread per URL: a delivery can take seconds (a slow server, DNS, a retry back-off); the
caller (the MQTT subscriber of ``sitless notify``) only enqueues, so MQTT and the store never wait, and a
dead service never delays the others. A failed delivery is retried ``retries`` times with doubling
delays, each failure logged; a prompt that still fails is logged as lost for that URL (the prompt
itself is safe in the store and on MQTT).

URLs hold secrets (an ntfy topic is a password, a Telegram URL holds the bot token), so they come from
the config file or ``SITLESS_NOTIFY_URLS`` only, and every log line through this module and apprise's
own logger has them replaced by a redacted form (``ntfys://ntfy.example.org/***``).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

log = logging.getLogger(__name__)

ENV_URLS = "SITLESS_NOTIFY_URLS"
#: ntfy's JSON action format (docs.ntfy.sh/publish/#action-buttons): at most 3 actions per message.
NTFY_SCHEMES = ("ntfy", "ntfys")


@dataclass
class NotifySettings:
    """Table ``[notify]`` of the config file."""

    #: apprise URLs; also SITLESS_NOTIFY_URLS (whitespace-separated), which replaces these.
    urls: list[str] = field(default_factory=list)
    retries: int = 3
    retry_delay_s: float = 5.0
    #: ntfy: the topic the Snooze / Done buttons post to (default "<topic>-sitless"), polled every poll_s.
    ntfy_reply_topic: str | None = None
    poll_s: float = 5.0
    #: The snooze length the notification's Snooze button asks for.
    snooze_min: float = 15

    def __post_init__(self) -> None:
        if not isinstance(self.urls, list) or not all(isinstance(u, str) and u.strip() for u in self.urls):
            raise ValueError("urls must be a list of apprise URLs (strings)")
        for url in self.urls:
            if "://" not in url:
                raise ValueError(f"{redact(url)} is not an apprise URL (scheme://...)")
        if self.retries < 0 or self.retry_delay_s < 0 or not self.poll_s > 0 or not self.snooze_min > 0:
            raise ValueError("retries and retry_delay_s must be >= 0, poll_s and snooze_min > 0")

    def with_environment(self, environ: dict[str, str] | None = None) -> NotifySettings:
        env = os.environ if environ is None else environ
        text = env.get(ENV_URLS, "").strip()
        if not text:
            return self
        return NotifySettings(**{**self.__dict__, "urls": text.split()})


def redact(url: str) -> str:
    """What a log line may show of an apprise URL: the scheme and the host, nothing that authorises."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme in NTFY_SCHEMES and not parts.path.strip("/"):
            host = ""  # ntfy://topic (ntfy.sh): the "host" is the topic, a secret
        if "." not in host and ":" not in host and host != "localhost":
            host = (
                ""  # not a host name: a token or a user id (tgram://<bot token>/..., pover://<user>@<token>)
            )
    except ValueError:
        return "<unparsable URL>"
    scheme = parts.scheme or "?"
    return f"{scheme}://{host}/***" if host else f"{scheme}://***"


class RedactingFilter(logging.Filter):
    """Replaces each secret (a whole URL, its password, its path segments) in a log record's message."""

    def __init__(self, urls: list[str]) -> None:
        super().__init__()
        pairs: list[tuple[str, str]] = []
        for url in urls:
            pairs.append((url, redact(url)))
            parts = urlsplit(url)
            secrets = [parts.password, parts.username, parts.query] + parts.path.split("/")
            if parts.scheme in NTFY_SCHEMES and not parts.path.strip("/"):
                secrets.append(parts.hostname)
            pairs += [(s, "***") for s in secrets if s and len(s) >= 4]
        self._pattern = re.compile("|".join(re.escape(s) for s, _ in sorted(pairs, key=lambda p: -len(p[0]))))
        self._replace = dict(pairs)
        self._replace.update({quote(s, safe=""): r for s, r in pairs})

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._replace:
            return True
        message = record.getMessage()
        cleaned = self._pattern.sub(lambda m: self._replace.get(m.group(0), "***"), message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def install_redaction(urls: list[str]) -> RedactingFilter:
    """Attach the filter to every handler that may print these URLs (ours, apprise's, the root's)."""
    flt = RedactingFilter(urls)
    for name in ("", "sitless", "apprise"):
        logger = logging.getLogger(name)
        logger.addFilter(flt)
        for handler in logger.handlers:
            handler.addFilter(flt)
    return flt


# --------------------------------------------------------------------------- the message
@dataclass(frozen=True)
class Notification:
    prompt_id: str
    title: str
    body: str


def notification_for(prompt: dict) -> Notification:
    """The text every service gets: why now, the exercise, its dosage and its safety line."""
    exercise = prompt.get("exercise") or {}
    minutes = round(float(prompt.get("sitting_min", 0)))
    level = int(prompt.get("level", 1))
    if level > 1:
        title = f"Still sitting: {minutes} min (reminder {level - 1})"
    else:
        title = f"Time to stand up: {minutes} min sitting"
    lines = []
    if prompt.get("waited_for"):
        lines.append(f"This waited for your {prompt['waited_for']} to end.")
    if prompt.get("after_snooze"):
        lines.append("Your snooze is over.")
    lines.append(f"{exercise.get('name', 'Stand up and move')}: {exercise.get('dosage', '')}".rstrip(": "))
    if exercise.get("instructions"):
        lines.append(exercise["instructions"])
    if exercise.get("safety"):
        lines.append(exercise["safety"])
    return Notification(str(prompt.get("id", "")), title, "\n".join(lines))


def ntfy_actions(reply_url: str, prompt_id: str, snooze_min: float) -> str:
    """ntfy's action buttons (JSON form of the X-Actions header): each posts a command to the reply topic,
    which ``sitless notify`` polls and turns into ``cmd/snooze`` / ``cmd/ack`` on MQTT."""
    actions = [
        {"action": "http", "label": f"Snooze {snooze_min:g} min", "url": reply_url, "method": "POST",
         "body": f"snooze {snooze_min:g} {prompt_id}", "clear": True},
        {"action": "http", "label": "Done", "url": reply_url, "method": "POST",
         "body": f"ack {prompt_id}", "clear": True},
    ]  # fmt: skip
    return json.dumps(actions, separators=(",", ":"))


@dataclass(frozen=True)
class NtfyTarget:
    """Where an ntfy URL publishes, and where its buttons answer."""

    base: str  # https://ntfy.example.org
    topic: str
    reply_topic: str
    auth: tuple[str, str] | None

    @property
    def reply_url(self) -> str:
        return f"{self.base}/{quote(self.reply_topic, safe='')}"


def ntfy_target(url: str, reply_topic: str | None = None) -> NtfyTarget | None:
    """The server and topic of an apprise ntfy URL (``ntfy://topic`` is ntfy.sh), else None."""
    parts = urlsplit(url)
    if parts.scheme not in NTFY_SCHEMES:
        return None
    path = [p for p in parts.path.split("/") if p]
    if not path:  # cloud mode: ntfy://topic
        base, topic = "https://ntfy.sh", parts.hostname or ""
    else:
        scheme = "https" if parts.scheme == "ntfys" else "http"
        port = f":{parts.port}" if parts.port else ""
        base, topic = f"{scheme}://{parts.hostname}{port}", path[0]
    if not topic:
        return None
    auth = (parts.username, parts.password or "") if parts.username else None
    return NtfyTarget(base, topic, reply_topic or f"{topic}-sitless", auth)


def _with_query(url: str, key: str, value: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{key}={quote(value, safe='')}"


# --------------------------------------------------------------------------- delivery
class Notifier:
    """One worker thread per URL; ``submit`` never blocks. See the module docstring."""

    def __init__(
        self,
        settings: NotifySettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import apprise

        from sitless.alerts import desktop  # registers desktop:// with apprise

        del desktop
        self._apprise = apprise
        self.settings = settings
        self._sleep = sleep
        self._queues: list[queue.SimpleQueue] = []
        self._threads: list[threading.Thread] = []
        self.delivered: list[tuple[str, str]] = []  # (redacted url, prompt id)
        self.failed: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        for url in settings.urls:
            if apprise.Apprise.instantiate(url) is None:
                raise ValueError(f"[notify] urls: apprise does not understand {redact(url)}")

    def start(self) -> None:
        for url in self.settings.urls:
            jobs: queue.SimpleQueue = queue.SimpleQueue()
            thread = threading.Thread(target=self._work, args=(url, jobs), name="sitless-notify", daemon=True)
            self._queues.append(jobs)
            self._threads.append(thread)
            thread.start()

    def submit(self, prompt: dict) -> None:
        for jobs in self._queues:
            jobs.put(prompt)

    def stop(self, timeout: float = 5.0) -> None:
        for jobs in self._queues:
            jobs.put(None)
        for thread in self._threads:
            thread.join(timeout)

    def _work(self, url: str, jobs: queue.SimpleQueue) -> None:
        target = ntfy_target(url, self.settings.ntfy_reply_topic)
        while (prompt := jobs.get()) is not None:
            message = notification_for(prompt)
            send_url = url
            if target is not None and message.prompt_id:
                send_url = _with_query(
                    url,
                    "actions",
                    ntfy_actions(target.reply_url, message.prompt_id, self.settings.snooze_min),
                )
            self._deliver(url, send_url, message)

    def _deliver(self, url: str, send_url: str, message: Notification) -> None:
        shown = redact(url)
        delay = self.settings.retry_delay_s
        for attempt in range(1, self.settings.retries + 2):
            ok = False
            try:
                plugin = self._apprise.Apprise.instantiate(send_url)
                ok = bool(plugin and plugin.notify(body=message.body, title=message.title))
            except Exception as error:  # noqa: BLE001 - a plugin bug is a failed delivery, not a crash
                log.warning("notify: %s raised %s", shown, type(error).__name__)
            if ok:
                with self._lock:
                    self.delivered.append((shown, message.prompt_id))
                log.info("notify: prompt %s sent to %s", message.prompt_id[:8], shown)
                return
            if attempt <= self.settings.retries:
                log.warning(
                    "notify: sending prompt %s to %s failed (attempt %d of %d); retrying in %.0f s",
                    message.prompt_id[:8], shown, attempt, self.settings.retries + 1, delay,
                )  # fmt: skip
                self._sleep(delay)
                delay *= 2
        with self._lock:
            self.failed.append((shown, message.prompt_id))
        log.error(
            "notify: prompt %s not delivered to %s after %d attempts; check the URL and the service "
            "(the prompt is still on MQTT and in the store)",
            message.prompt_id[:8], shown, self.settings.retries + 1,
        )  # fmt: skip

    def wait_idle(self, count: int, timeout: float) -> bool:
        """True once ``count`` deliveries (delivered or failed for good) happened."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.delivered) + len(self.failed) >= count:
                    return True
            time.sleep(0.02)
        return False


# --------------------------------------------------------------------------- ntfy replies
def parse_reply(body: str) -> tuple[str, bytes] | None:
    """An ntfy button's body -> (command name, MQTT payload), or None if it is not ours.

    ``snooze <minutes> <prompt id>`` and ``ack <prompt id>`` (what ``ntfy_actions`` puts in the buttons).
    """
    words = body.split()
    if len(words) == 3 and words[0] == "snooze":
        try:
            minutes = float(words[1])
        except ValueError:
            return None
        return "snooze", json.dumps({"minutes": minutes}).encode()
    if len(words) == 2 and words[0] == "ack":
        return "ack", json.dumps({"id": words[1]}).encode()
    return None


class NtfyReplies:
    """Polls each ntfy reply topic (``GET /<topic>/json?poll=1&since=<last id>``, ntfy's subscribe API)
    and hands each button press to ``on_reply(name, payload)``. Only outgoing HTTPS: nothing listens."""

    def __init__(self, settings: NotifySettings, on_reply: Callable[[str, bytes], None]) -> None:
        self.targets = [t for u in settings.urls if (t := ntfy_target(u, settings.ntfy_reply_topic))]
        self.poll_s = settings.poll_s
        self.on_reply = on_reply
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._since = {t.reply_url: str(int(time.time())) for t in self.targets}

    def start(self) -> None:
        if self.targets:
            self._thread = threading.Thread(target=self._run, name="sitless-ntfy-replies", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            for target in self.targets:
                self.poll_once(target)
            self._stop.wait(self.poll_s)

    def poll_once(self, target: NtfyTarget) -> None:
        import requests  # apprise's own HTTP library

        url = f"{target.reply_url}/json"
        try:
            response = requests.get(
                url,
                params={"poll": "1", "since": self._since[target.reply_url]},
                auth=target.auth,
                timeout=10,
            )
            response.raise_for_status()
        except requests.RequestException as error:
            log.warning(
                "notify: cannot read the ntfy reply topic on %s (%s); trying again",
                target.base,
                type(error).__name__,
            )
            return
        for line in response.text.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") != "message":
                continue
            self._since[target.reply_url] = str(event.get("id") or event.get("time"))
            command = parse_reply(str(event.get("message", "")))
            if command is None:
                log.warning("notify: ignored a message on the reply topic that is not a sitless button")
                continue
            self.on_reply(*command)
