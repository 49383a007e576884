"""The command line: parses arguments, calls the library, prints. No logic of its own.

Every command imports the library inside its function, not here: `--help` needs typer and
the platform registry only, and each command loads what it uses (bench/startup.py times it).
Nor does typer make every command's click parameters at each start: a group makes only the
command it runs or shows the help of (`_LazyCommands`).

The annotations are strings (``from __future__ import annotations``): typer evaluates those
of the command it makes (several times over), and the other commands' parameters, each an
``Annotated`` type with its typer option, are never built. That is almost half of this
module's import, about 1.7 % of `--help`; making a command costs a little more (`schedule
--help` about 4 %, counted in instructions).
"""

from __future__ import annotations

import gc
import inspect
import os
import sys
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar, cast

# The process starts with the garbage collector off (see started()) from here on: importing
# typer is most of what `--help` costs, and the collector would walk the objects it makes,
# which live as long as the process, again and again. It is on again at the end of this
# module, for whoever imports it in-process (the tests, the hook); main() keeps it off.
_collecting = gc.isenabled()
gc.disable()

import typer  # noqa: E402 (imported with the collector off, see above)
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption  # noqa: E402
from typer.main import get_command_from_info, get_command_name  # noqa: E402
from typer.models import CommandInfo  # noqa: E402

from studio_publish.errors import BadInput, StudioPublishError  # noqa: E402
from studio_publish.platforms.registry import PLATFORMS  # noqa: E402

if TYPE_CHECKING:
    from studio_publish.accounts import NewTokens
    from studio_publish.settings import Settings
    from studio_publish.store.db import Connection, DatabaseTarget


# How the CLI names each field the library's errors name: the flag or argument it is typed
# as. (The tokens come from standard input or an environment variable, never from argv.)
FLAGS = {
    "platform": "--platform",
    "platform_account_id": "--platform-account-id",
    "workspace": "--workspace",
    "name": "--name",
    "options": "--option",
    "login": "--login",
    "access_token": "access token",
    "refresh_token": "refresh token",
    "access_token_env": "--access-token-env",
    "refresh_token_env": "--refresh-token-env",
    "token_expires_at": "--token-expires-at",
    "refresh_token_expires_at": "--refresh-token-expires-at",
    "account_id": "ACCOUNT_ID",
    "post_id": "POST_ID",
    "account": "--account",
    "at": "--at",
    "tz": "--tz",
    "draft": "--draft",
    "dry_run": "--dry-run",
    "caption": "--caption",
    "first_comment": "--first-comment",
    "media": "--media",
    "type": "--type",
    "file": "--file",
    "id": "--id",
    "since": "--since",
    "confirm_not_live": "--confirm-not-live",
    "platform_post_id": "--platform-post-id",
    "permalink": "--permalink",
    "check": "--check",
    "older_than": "--older-than",
    "port": "--port",
    "error_rate": "--error-rate",
}
# How to fix a problem when the fix is a way of giving input that only the CLI has.
HINTS = {("access_token", "is empty"): "give it on standard input or --access-token-env"}


def shown(field: str) -> str:
    """A field as the user knows it: its flag or argument (``at`` is ``--at``), keeping any
    place in it (``file line 3: caption`` is ``--file line 3: caption``)."""
    name, space, place = field.partition(" ")
    return FLAGS.get(name, name) + space + place


def error_text(exc: StudioPublishError) -> tuple[str, str | None]:
    """An error's message and field as the user sees them: in the CLI's names."""
    if not isinstance(exc, BadInput):
        return str(exc), None
    problem = exc.problem_naming(shown)
    if hint := HINTS.get((exc.field, problem)):
        problem = f"{problem} ({hint})"
    field = shown(exc.field)
    return f"{field}: {problem}", field


class _PlainHelp:
    """Help as the README writes it, in click's plain layout (no rich panels: rendering them
    imported rich's console, tables and panels, which made `--help` 1.6x slower than
    importing typer, bench/startup.py).

    A flag shows no ``<bool>`` (it takes no value: ``--draft``, never ``--draft true``), an
    argument no ``<str>``, the usage line names an argument ``POST_ID`` when required and
    ``[POST_ID]`` when not (typer writes ``{POST_ID}``, which reads as a set of choices), and
    a command's summary in its group's list is its first sentence, whole (click cuts it at 45
    characters with "...")."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["rich_markup_mode"] = None  # typer's switch for click's plain help and errors
        super().__init__(*args, **kwargs)

    def get_params(self, ctx: Any) -> list[Any]:
        params: list[Any] = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if isinstance(param, TyperOption) and param.metavar is None:
                # typer shows the metavar instead of the type (`<str>`, `<list[str]>`): a flag
                # shows nothing, an option what it takes (`--account ACCOUNT`) unless it says.
                param.metavar = "" if param.is_flag else (param.name or "value").upper()
            elif isinstance(param, TyperArgument):
                # The argument's name says what it takes: no `<str>` beside it.
                param.display_type_rich = _no_type  # type: ignore[method-assign]
        return params

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            # Not given, click leaves -h/--help at None, which typer turns into a bool through
            # a pydantic type adapter (it skips a value that is one): importing pydantic for
            # that was most of a command's `--help` (`schedule --help`, bench/startup.py).
            option.default = False
        return option

    def get_short_help_str(self, limit: int = 45) -> str:
        return str(super().get_short_help_str(limit=1000))  # type: ignore[misc]

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces: list[str] = super().collect_usage_pieces(ctx)  # type: ignore[misc]
        required = {
            piece
            for param in self.params  # type: ignore[attr-defined]
            if isinstance(param, TyperArgument) and param.required
            for piece in param.get_usage_pieces(ctx)
        }
        return [p[1:-1] if p in required and p.startswith("{") else p for p in pieces]


def _no_type(ctx: Any) -> None:
    return None


class _Command(_PlainHelp, TyperCommand):
    """Every command: its help in the README's terms (`_PlainHelp`)."""


class _LazyCommands(MutableMapping[str, Any]):
    """A group's commands by name, each made into a click command the first time it is
    looked up (to be run, or to show its own help), not all of them at every start.

    typer makes every command of an app before it reads an argument: each function's
    signature and type hints, then an option object per parameter. That was some 6 ms, about
    40 % of what `--help` cost beyond importing typer (bench/startup.py), for commands it only
    names, and `status` or `run-due` paid it for every other command too. The names are all here
    from the start, so "No such command ... Did you mean" still offers every one.
    """

    def __init__(self, commands: dict[str, Any]) -> None:
        self._commands = commands  # a click command, or typer's CommandInfo until looked up

    def __getitem__(self, name: str) -> Any:
        command = self._commands[name]
        if isinstance(command, CommandInfo):
            # What typer.main.get_group does for every command. (typer's pretty exceptions,
            # which this setting trims, are off.)
            command = get_command_from_info(
                command, pretty_exceptions_short=True, rich_markup_mode=None
            )
            self._commands[name] = command
        return command

    def __setitem__(self, name: str, command: Any) -> None:
        self._commands[name] = command

    def __delitem__(self, name: str) -> None:
        del self._commands[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._commands)

    def __len__(self) -> int:
        return len(self._commands)

    def summary(self, name: str) -> str | None:
        """What the group's list says of the command (its whole first sentence, see
        _PlainHelp), or None when it is hidden. A command not made yet is not made for it:
        its own class, given its docstring and no parameters, says the same."""
        command = self._commands[name]
        if isinstance(command, CommandInfo):
            help_text = command.help
            command = (command.cls or TyperCommand)(
                name=name,
                help=inspect.getdoc(command.callback) if help_text is None else help_text,
                short_help=command.short_help,
                hidden=command.hidden,
                deprecated=command.deprecated,
            )
        return None if command.hidden else str(command.get_short_help_str())


class _LazyGroup(_PlainHelp, TyperGroup):
    """A group whose commands are made when used (`_LazyCommands`), listed in its help from
    their docstrings. They are registered on its `_Typer`, where typer does not look: the
    group class `_Typer` makes for each app brings them here."""

    registered: ClassVar[dict[str, CommandInfo]] = {}

    def __init__(self, *, commands: dict[str, Any] | None = None, **kwargs: Any) -> None:
        # typer lists an app's commands, then its subgroups (`db`, `accounts`), made already.
        every = _LazyCommands({**self.registered, **(commands or {})})
        super().__init__(commands=every, **kwargs)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # the names only: typer's reads every command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The list of commands, laid out as typer's, from their summaries."""
        commands = cast(_LazyCommands, self.commands)
        rows = [
            (name, summary)
            for name in self.list_commands(ctx)
            if (summary := commands.summary(name)) is not None
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


F = TypeVar("F", bound=Callable[..., Any])


class _Typer(typer.Typer):
    """A typer app whose commands typer does not make at start-up: its group makes each one
    when it is used (`_LazyGroup`). Commands are declared as on any typer app."""

    def __init__(self, *, cls: type[_LazyGroup], **kwargs: Any) -> None:
        self.lazy: dict[str, CommandInfo] = {}
        # typer makes the group itself, from a class and arguments of its own: a subclass
        # for this app is how the group finds the commands registered here.
        group = type(cls.__name__, (cls,), {"registered": self.lazy, "__doc__": cls.__doc__})
        super().__init__(cls=cast(type[_LazyGroup], group), **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Callable[[F], F]:
        register = super().command(*args, **kwargs)

        def lazily(function: F) -> F:
            register(function)  # typer records the command (a CommandInfo) in its list...
            info = self.registered_commands.pop()  # ...which it makes at start-up: kept here
            self.lazy[info.name or get_command_name(function.__name__)] = info
            return function

        return lazily


class _Group(_LazyGroup):
    """`db` and `accounts`: their help in the README's terms (`_PlainHelp`)."""


class _Commands(_LazyGroup):
    """Turns our errors into one line on stderr and the spec's exit code, for every command:
    ``error: ...`` on a terminal, a JSON log line under cron (logs.report_failure).

    With --json the error is also one JSON document on stdout (the spec's Additions):
    ``{"error": {"code": 2, "message": "...", "field": "--at"}}``, so a script that reads
    stdout learns why as well as that. This is the one place errors become output.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta["studio_publish.json"] = "--json" in args
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except StudioPublishError as exc:
            from studio_publish.logs import report_failure

            message, field = error_text(exc)
            if ctx.meta.get("studio_publish.json"):
                from studio_publish.cli.output import print_json

                print_json({"error": {"code": exc.exit_code, "message": message, "field": field}})
            report_failure(message, exit_code=exc.exit_code, field=field)
            raise typer.Exit(exc.exit_code) from None


# The platforms come from the registry, so a new one needs no change here.
_NAMES = [spec.display_name for spec in PLATFORMS.values()]
ABOUT = f"Schedule posts and publish them to {', '.join(_NAMES[:-1])} and {_NAMES[-1]}."
ACCOUNT_OPTIONS = "; ".join(
    f"{spec.display_name}: {', '.join(f'{key}=true' for key in spec.account_options)}"
    for spec in PLATFORMS.values()
    if spec.account_options
)
# `accounts add --login`: the platforms connected through more than one login, and theirs.
LOGINS = "; ".join(
    f"{spec.display_name}: {' or '.join(login.name for login in spec.logins)}, "
    f"default {spec.logins[0].name}"
    for spec in PLATFORMS.values()
    if spec.logins
)

# -h is --help on every command (the spec's Additions). The help fills a terminal up to 120
# columns wide (click stops at 80).
HELP_OPTIONS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 120}

app = _Typer(
    cls=_Commands,
    help=ABOUT,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=HELP_OPTIONS,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"studio-publish {version('studio-publish')}")
        raise typer.Exit()


@app.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    return None  # the app's help is ABOUT, which names the platforms from the registry


db_app = _Typer(cls=_Group, help="Database schema and housekeeping.", no_args_is_help=True)
accounts_app = _Typer(cls=_Group, help="Social accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document, nothing else.")]
TzOption = Annotated[str | None, typer.Option(help="IANA zone for times without an offset.")]
# The token options of `accounts add` and `accounts reauth`: tokens never come from argv.
AccessTokenEnv = Annotated[
    str | None,
    typer.Option(
        metavar="VARIABLE",
        help="Read the access token from this environment variable (else stdin).",
    ),
]
RefreshTokenEnv = Annotated[
    str | None,
    typer.Option(metavar="VARIABLE", help="Read a refresh token from this environment variable."),
]
TokenExpiresAt = Annotated[
    str | None, typer.Option(metavar="WHEN", help="When the access token expires.")
]
RefreshTokenExpiresAt = Annotated[
    str | None, typer.Option(metavar="WHEN", help="When the refresh token expires.")
]


def settings() -> Settings:
    from studio_publish.logs import configure_logging
    from studio_publish.settings import load_settings

    loaded = load_settings()
    configure_logging(loaded.log_format)
    started()
    return loaded


# Set by main(): the process is starting, with the garbage collector off (see started).
_starting = False


def started() -> None:
    """Start-up is over: the command's modules are loaded and its work begins.

    The garbage collector is off while the process starts, from this module's import on
    (main() keeps it off). Loading the modules makes some 80,000 objects that live as long
    as the process, and next to no garbage, yet the collector walked them over and over:
    that was about a quarter of `status` and of an idle `run-due` (bench/startup.py). Here
    they are frozen (gc.freeze: never walked again, in a run of any length; merely turned on
    again, it would walk them all at once) and the collector is on again for the command's
    work. Every command that does work calls this, through settings() or itself (sandbox,
    demo); `--help` and a usage error end before it (see main()).
    """
    global _starting
    if _starting:
        _starting = False
        gc.freeze()
        gc.enable()


@contextmanager
def database(*, migrated: bool = True) -> Iterator[tuple[Connection, DatabaseTarget]]:
    """Connect to the configured (or embedded) database; exit 3 if unreachable or unmigrated."""
    from studio_publish.store import db
    from studio_publish.store.migrations import require_migrated

    target = db.resolve_target(settings())
    conn = db.connect(target)
    try:
        if migrated:
            require_migrated(conn)
        yield conn, target
    finally:
        conn.close()


# --- db ---------------------------------------------------------------------------------


@db_app.command("migrate", cls=_Command)
def db_migrate(as_json: JsonOption = False) -> None:
    """Apply the pending migrations from sql/, in order, each once. Safe to run again."""
    from studio_publish.cli.output import emit
    from studio_publish.store.migrations import migrate

    with database(migrated=False) as (conn, target):
        applied = migrate(conn)
    names = [m.name for m in applied]
    where = target.description
    text = f"Applied {len(names)} migration(s) to {where}: {', '.join(names)}"
    if not names:
        text = f"{where} is up to date."
    emit({"database": where, "applied": names}, as_json, text)


@db_app.command("stop", cls=_Command)
def db_stop(as_json: JsonOption = False) -> None:
    """Stop the embedded PostgreSQL, when it is running (it stays up between commands)."""
    from studio_publish.cli.output import emit
    from studio_publish.store import db

    loaded = settings()
    if loaded.database_url:  # nothing of ours runs: a no-op, so scripts may call it anyway
        text = "DATABASE_URL is set: there is no embedded PostgreSQL to stop."
        emit({"data_dir": None, "stopped": False}, as_json, text)
        return
    data_dir = db.embedded_data_dir(loaded)
    stopped = db.stop_embedded(data_dir)
    text = (
        f"Stopped the embedded PostgreSQL in {data_dir}."
        if stopped
        else f"The embedded PostgreSQL in {data_dir} is not running."
    )
    emit({"data_dir": str(data_dir), "stopped": stopped}, as_json, text)


@db_app.command("prune", cls=_Command)
def db_prune(
    older_than: Annotated[str, typer.Option(help="Delete history older than this, e.g. 90d, 12w.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete old attempt, run and alert rows; never a post, never the latest run."""
    from studio_publish.cli.output import emit
    from studio_publish.formatting import local_time
    from studio_publish.reporting.prune import prune

    with database() as (conn, _):
        result = prune(conn, older_than, dry_run=dry_run)
    counts = ", ".join(f"{n} {table}" for table, n in result.counts.items())
    verb = "Would delete" if dry_run else "Deleted"
    text = f"{verb} history from before {local_time(result.cutoff)}: {counts}."
    emit(result.as_dict(), as_json, text)


# --- accounts ---------------------------------------------------------------------------


def read_secret(env_var: str | None, field: str, *, required: bool) -> str | None:
    """A token (``field``) from the named environment variable, or else from standard input:
    all of it, as given (the library strips it and refuses one with a line break inside:
    reading only the first line stored what came before a stray line break, silently)."""
    if env_var:
        value = os.environ.get(env_var)
        if not value:
            raise BadInput(f"{field}_env", f"environment variable {env_var} is not set or empty")
        return value
    if not required:
        return None
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass(f"{FLAGS[field]}: ")
    return sys.stdin.read()


def tokens_from_input(
    conn: Connection,
    env_vars: tuple[str | None, str | None],
    expires_at: tuple[str | None, str | None],
    tz: str | None,
) -> NewTokens:
    """The tokens given to `accounts add` or `accounts reauth` (access, refresh), read from
    their environment variables or stdin, with their expiry times."""
    from studio_publish.accounts import new_tokens

    return new_tokens(
        conn,
        access_token=read_secret(env_vars[0], "access_token", required=True) or "",
        refresh_token=read_secret(env_vars[1], "refresh_token", required=False),
        token_expires_at=expires_at[0],
        refresh_token_expires_at=expires_at[1],
        tz=tz,
    )


@accounts_app.command("add", cls=_Command)
def accounts_add(
    platform: Annotated[str, typer.Option(help=f"One of: {', '.join(PLATFORMS)}.")],
    platform_account_id: Annotated[
        str,
        typer.Option(
            metavar="ID",
            help=", ".join(spec.account_id_label for spec in PLATFORMS.values()) + ".",
        ),
    ],
    workspace: Annotated[str | None, typer.Option(help="Workspace UUID.")] = None,
    name: Annotated[str | None, typer.Option(help="A name to show.")] = None,
    token_expires_at: TokenExpiresAt = None,
    refresh_token_expires_at: RefreshTokenExpiresAt = None,
    access_token_env: AccessTokenEnv = None,
    refresh_token_env: RefreshTokenEnv = None,
    option: Annotated[
        list[str] | None,
        typer.Option(metavar="KEY=VALUE", help=f"An account option ({ACCOUNT_OPTIONS})."),
    ] = None,
    login: Annotated[
        str | None,
        typer.Option(
            help=f"Which login issued the token: its API host and token refresh ({LOGINS})."
        ),
    ] = None,
    tz: TzOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a social account. The token comes from stdin or --access-token-env, never argv."""
    from studio_publish.accounts import (
        DEFAULT_WORKSPACE,
        NewAccount,
        add_account,
        parse_account_options,
    )
    from studio_publish.cli.output import emit

    with database() as (conn, _):
        env_vars = (access_token_env, refresh_token_env)
        expires_at = (token_expires_at, refresh_token_expires_at)
        tokens = tokens_from_input(conn, env_vars, expires_at, tz)
        account = NewAccount(
            platform=platform,
            platform_account_id=platform_account_id,
            access_token=tokens.access_token,
            workspace_id=workspace or DEFAULT_WORKSPACE,
            name=name,
            refresh_token=tokens.refresh_token,
            token_expires_at=tokens.token_expires_at,
            refresh_token_expires_at=tokens.refresh_token_expires_at,
            options=parse_account_options(platform, option or []),
            login=login,
        )
        row = add_account(conn, account)
    emit(row, as_json, str(row["id"]))


@accounts_app.command("list", cls=_Command)
def accounts_list(as_json: JsonOption = False) -> None:
    """Accounts with platform, name, token expiry and state. Never a token."""
    from studio_publish.accounts import list_accounts
    from studio_publish.cli.output import emit
    from studio_publish.cli.render import show_accounts

    with database() as (conn, _):
        rows = list_accounts(conn)
    emit(rows, as_json, show_accounts)


@accounts_app.command("reauth", cls=_Command)
def accounts_reauth(
    account_id: Annotated[
        str, typer.Argument(metavar="ACCOUNT_ID", help="The account to re-authorise.")
    ],
    token_expires_at: TokenExpiresAt = None,
    refresh_token_expires_at: RefreshTokenExpiresAt = None,
    access_token_env: AccessTokenEnv = None,
    refresh_token_env: RefreshTokenEnv = None,
    tz: TzOption = None,
    as_json: JsonOption = False,
) -> None:
    """Store an account's new token(s) and make it active: its held posts go out next run."""
    from studio_publish.accounts import reauth_account
    from studio_publish.cli.output import emit

    with database() as (conn, _):
        env_vars = (access_token_env, refresh_token_env)
        expires_at = (token_expires_at, refresh_token_expires_at)
        row = reauth_account(conn, account_id, tokens_from_input(conn, env_vars, expires_at, tz))
    text = (
        f"Account {row['id']} ({row['platform']}) is active again: "
        f"{row['released_posts']} held post(s) go out at the next run-due."
    )
    emit(row, as_json, text)


# --- posts ------------------------------------------------------------------------------


def require_utf8(*arguments: tuple[str, str | list[str] | None]) -> None:
    """BadInput naming the field whose value is not UTF-8 text, before anything else runs."""
    from studio_publish.scheduling.validation import check_text

    for field, given in arguments:
        for value in [given] if isinstance(given, str) else given or []:
            check_text(value, field)


# What a flag's value would be, had it one: after a flag, these are a mistake, not a post id.
_BOOLEAN_WORDS = {"true", "false", "yes", "no", "on", "off", "1", "0"}


def refuse_flag_values(post_id: str | None, **flags: bool) -> None:
    """``--draft true``: a flag takes no value, so click reads ``true`` as POST_ID; say so
    instead of trying to reschedule a post called ``true``."""
    if post_id is None or post_id.lower() not in _BOOLEAN_WORDS:
        return
    for name, given in flags.items():
        if given:
            raise BadInput(name, f"takes no value: write {FLAGS[name]} alone, not {post_id!r}")


@app.command(cls=_Command)
def schedule(
    post_id: Annotated[
        str | None, typer.Argument(metavar="POST_ID", help="Reschedule this existing post instead.")
    ] = None,
    account: Annotated[str | None, typer.Option(help="Account id (UUID).")] = None,
    at: Annotated[
        str | None, typer.Option(metavar="WHEN", help="ISO 8601 with offset, now, +30m, +2h, +1d.")
    ] = None,
    draft: Annotated[bool, typer.Option("--draft", help="Create a draft instead.")] = False,
    caption: Annotated[str, typer.Option(help="The caption or message.")] = "",
    media: Annotated[
        list[str] | None, typer.Option(metavar="URL_OR_FILE", help="A media URL or file; repeat.")
    ] = None,
    first_comment: Annotated[
        str | None,
        typer.Option(
            metavar="TEXT",
            help="A comment the account posts under the post once it is live "
            "(Instagram, Facebook, Threads).",
        ),
    ] = None,
    post_type: Annotated[
        str | None,
        typer.Option("--type", help="image, video, reel, story, carousel or text."),
    ] = None,
    option: Annotated[
        list[str] | None, typer.Option(metavar="KEY=VALUE", help="KEY=VALUE; repeat.")
    ] = None,
    tz: Annotated[str | None, typer.Option(help="IANA zone for a time without offset.")] = None,
    file: Annotated[
        Path | None, typer.Option(help="Bulk: a CSV or JSON Lines file of posts.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show; write nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a scheduled post (or a draft), reschedule one, or schedule a file of posts."""
    from studio_publish.cli.output import emit
    from studio_publish.cli.render import show_planned
    from studio_publish.scheduling import posts
    from studio_publish.scheduling.validation import PostInput

    require_utf8(
        ("post_id", post_id),
        ("account", account),
        ("at", at),
        ("caption", caption),
        ("first_comment", first_comment),
        ("media", media),
        ("type", post_type),
        ("options", option),
        ("tz", tz),
    )  # --file is a path: any bytes may name a file
    refuse_flag_values(post_id, draft=draft, dry_run=dry_run)
    with database() as (conn, _):
        if file is not None:
            single = (account, at, draft, media, caption, post_type, option, first_comment)
            if post_id or any(single):
                raise BadInput("file", "cannot be combined with single-post options")
            rows = posts.schedule_file(conn, file, settings().media_policy(), dry_run=dry_run)
        elif post_id is not None:
            if not at:
                raise BadInput("at", "is required to reschedule a post")
            if account or draft or media or caption or post_type or option or first_comment:
                raise BadInput("post_id", "rescheduling takes only --at (and --tz)")
            rows = [posts.reschedule_post(conn, post_id, at, tz=tz, dry_run=dry_run)]
        else:
            raw = PostInput(
                account_id=account,
                at=at,
                draft=draft,
                caption=caption,
                media=list(media or []),
                post_type=post_type,
                options=list(option or []),
                tz=tz,
                first_comment=first_comment,
            )
            rows = posts.schedule_post(conn, raw, settings().media_policy(), dry_run=dry_run)
    document = {"dry_run": dry_run, "posts": rows} if dry_run or file else rows[0]
    emit(document, as_json, show_planned if dry_run else "\n".join(str(r["id"]) for r in rows))


@app.command(cls=_Command)
def cancel(
    post_id: Annotated[str, typer.Argument(metavar="POST_ID", help="The post to cancel.")],
    as_json: JsonOption = False,
) -> None:
    """Cancel a draft or scheduled post so that it is never published."""
    from studio_publish.cli.output import emit
    from studio_publish.scheduling.posts import cancel_post

    with database() as (conn, _):
        row = cancel_post(conn, post_id)
    emit(row, as_json, f"Cancelled {row['id']}.")


@app.command(cls=_Command)
def status(
    post_id: Annotated[
        str | None, typer.Argument(metavar="POST_ID", help="Show this post in detail.")
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="For monitoring: one PROBLEM line each, exit 1; else OK, exit 0."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The queue at a glance, or one post with its attempt history."""
    from studio_publish.cli.output import emit
    from studio_publish.cli.status_view import show_overview, show_post
    from studio_publish.reporting import status as report

    if check:
        if post_id:
            raise BadInput("check", "checks the whole queue: leave out POST_ID")
        status_check(as_json)
        return
    from studio_publish.store import db

    with database() as (conn, target):
        embedded_dir = db.embedded_data_dir(settings()) if target.embedded else None
        data = (
            report.post_detail(conn, post_id)
            if post_id
            else report.overview(
                conn,
                database=target.description,
                embedded_dir=embedded_dir,
                api_bases=settings().changed_api_bases(),
            )
        )
    emit(data, as_json, show_post if post_id else show_overview)


def status_check(as_json: bool) -> None:
    from studio_publish.cli.output import emit
    from studio_publish.cli.render import show_health
    from studio_publish.reporting.health import check_health

    with database() as (conn, _):
        health = check_health(conn)
    emit(health.as_dict(), as_json, lambda _: show_health(health))
    if not health.ok:
        raise typer.Exit(1)


# --- publishing -------------------------------------------------------------------------


@app.command("run-due", cls=_Command)
def run_due(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what is due; claim, write and call nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Publish every post that is due, then exit. Cron runs this every minute."""
    from studio_publish import operations
    from studio_publish.cli.output import emit
    from studio_publish.cli.render import live_progress, print_run, show_due

    with database() as (conn, target):
        if dry_run:
            emit(operations.preview_due(conn, settings()), as_json, show_due)
            return
    live = sys.stderr.isatty() and not as_json
    loaded = settings()
    if live:  # the live view and the summary tell the story; per-post info would scroll it away
        import logging

        from studio_publish.logs import configure_logging

        configure_logging(loaded.log_format, level=logging.WARNING)
    with live_progress(live) as on_result:
        summary = operations.run_due(loaded, target, on_result=on_result)
    print_run(summary.as_dict(), as_json)
    if summary.failed:
        raise typer.Exit(1)


@app.command(cls=_Command)
def publish(
    post_id: Annotated[str, typer.Argument(metavar="POST_ID", help="The post to publish now.")],
    force: Annotated[
        bool, typer.Option("--force", help="Publish a new copy of a post that is already live.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Publish one post now, whatever its time, and wait for the outcome."""
    from studio_publish import operations
    from studio_publish.cli.output import emit
    from studio_publish.cli.render import show_published

    with database() as (conn, target):
        outcome = operations.publish_post(settings(), target, conn, post_id, force=force)
    result = outcome.result
    document = {
        "post_id": outcome.post_id,
        "copy_of": outcome.copy_of,
        "posted": outcome.posted,
        "result": result.as_dict() if result else None,
    }
    emit(document, as_json, show_published)
    if not outcome.posted:
        raise typer.Exit(1)


@app.command("retry-failed", cls=_Command)
def retry_failed(
    post_ids: Annotated[
        list[str] | None, typer.Option("--id", metavar="POST_ID", help="Only this post; repeat.")
    ] = None,
    platform: Annotated[str | None, typer.Option(help="Only this platform.")] = None,
    account: Annotated[str | None, typer.Option(help="Only this account id.")] = None,
    since: Annotated[
        str | None, typer.Option(metavar="AGE", help="Only posts that failed within, e.g. 2h, 1d.")
    ] = None,
    now: Annotated[
        bool, typer.Option("--now", help="Publish them at once instead of at the next run.")
    ] = False,
    confirm_not_live: Annotated[
        bool,
        typer.Option(
            "--confirm-not-live",
            help="With --id: you checked that a needs_review post is not live.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Put failed posts back in line for the next run-due (or publish them --now)."""
    from studio_publish import operations
    from studio_publish.cli.output import emit
    from studio_publish.cli.render import show_requeued

    with database() as (conn, target):
        rows = operations.retry_failed(
            conn,
            ids=post_ids,
            platform=platform,
            account=account,
            since=since,
            confirm_not_live=confirm_not_live,
        )
    ids = [str(r["id"]) for r in rows]
    summary = operations.run_due(settings(), target, only_ids=ids) if now and ids else None
    emit({"requeued": ids, "run": summary.as_dict() if summary else None}, as_json, show_requeued)
    if summary and summary.failed:
        raise typer.Exit(1)


@app.command("confirm-live", cls=_Command)
def confirm_live(
    post_id: Annotated[
        str, typer.Argument(metavar="POST_ID", help="A needs_review post you found live.")
    ],
    platform_post_id: Annotated[
        str | None, typer.Option(help="Its id on the platform, if you know it.")
    ] = None,
    permalink: Annotated[str | None, typer.Option(help="Its link, if you know it.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Record a needs_review post as posted: you checked, and it is live on the platform."""
    from studio_publish import operations
    from studio_publish.cli.output import emit

    with database() as (conn, _):
        row = operations.confirm_live(
            conn, post_id, platform_post_id=platform_post_id, permalink=permalink
        )
    emit(row, as_json, f"Recorded {row['id']} as posted; nothing will publish it again.")


# --- sandbox and demo -------------------------------------------------------------------


@app.command(cls=_Command)
def sandbox(
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 8765,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    latency: Annotated[float, typer.Option(help="Seconds added to every platform call.")] = 0.0,
    error_rate: Annotated[
        float, typer.Option(help="Share of platform calls that fail transiently (0 to 1).")
    ] = 0.0,
    quota_total: Annotated[
        int, typer.Option(help="Instagram posts per account per 24 hours.")
    ] = 50,
    log_requests: Annotated[
        bool, typer.Option("--log-requests", help="Print one line per request.")
    ] = False,
) -> None:
    """Serve the local platform sandbox (a stand-in for every platform's API) until stopped.

    It prints the export lines that point studio-publish at it.

    Its control API (ledger, knobs, injected faults) is under /_sandbox/.
    """
    from studio_publish.sandbox import serve

    started()
    if not 0 <= port <= 65535:
        raise BadInput("port", "must be between 0 and 65535")
    if not 0 <= error_rate <= 1:
        raise BadInput("error_rate", "must be between 0 and 1")
    serve(
        host,
        port,
        log_requests=log_requests,
        latency=latency,
        error_rate=error_rate,
        quota_total=quota_total,
    )


@app.command(cls=_Command)
def demo() -> None:
    """Run the whole job end to end here with nothing configured, then clean up.

    A throwaway embedded PostgreSQL and the local platform sandbox.

    Sample accounts and one post of each type due now, one run-due, then status.

    Needs the `embedded` extra.
    """
    from studio_publish.cli.output import print_line
    from studio_publish.cli.status_view import show_overview
    from studio_publish.demo import run_demo

    started()
    summary = run_demo(print_line, show_overview)
    if summary.failed or summary.count("posted") == 0:
        raise typer.Exit(1)


# --- entry point ------------------------------------------------------------------------


def main() -> None:
    global _starting
    _starting = True
    gc.disable()  # until started(), as while this module loaded
    try:
        app()
    finally:
        if _starting:
            # No work began (--help, --version, a usage error): there is nothing but what
            # start-up made, and the interpreter's exit would walk it all once more, about a
            # tenth of `--help` (bench/startup.py). Frozen, it is left alone.
            gc.freeze()


if _collecting:
    gc.enable()  # this module is loaded: see its imports
