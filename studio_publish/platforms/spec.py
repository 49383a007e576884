"""What a platform declares about itself, once: its posts' rules, its settings, its client.

Each platform package (``studio_publish/platforms/<name>/``) builds one :class:`PlatformSpec`
and the registry lists them. Everything that depends on a platform reads its spec:
validation checks posts against ``post_types``, ``media`` and ``options`` at both doors
(``schedule`` and the engine); the CLI offers ``registry.names()``; status reads
``refreshes_tokens`` and ``quota``; the demo reads ``demo``. Nothing else names a platform.

The specs are plain data, cheap to import: the client module is imported only when
``make_client`` is called (by the engine). Their classes are typed named tuples, immutable
like frozen dataclasses but made about ten times faster: nine frozen dataclasses were most of
this module's import, which every command pays, `--help` too (bench/startup.py). A default
mapping is the shared read-only ``EMPTY``.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

if TYPE_CHECKING:
    from studio_publish.platforms.base import Platform
    from studio_publish.settings import Settings

MEDIA_KINDS = ("image", "video")
# The media kinds a post type takes.
NO_MEDIA, IMAGES, VIDEOS = frozenset[str](), frozenset({"image"}), frozenset({"video"})
IMAGES_OR_VIDEOS = IMAGES | VIDEOS
# Every post type any platform may take; a platform's spec says which of these it has.
POST_TYPES = ("image", "video", "reel", "story", "carousel", "text")

OptionValue = str | int | bool
# An extra rule over a post's checked options and media count: a message, or None.
OptionCheck = Callable[[Mapping[str, OptionValue], int], str | None]
# What a valid post (its type, caption and checked options) will not carry as written: a
# warning at `schedule` ("the caption is not sent ..."), or None. Never a refusal.
PostWarning = Callable[[str, str, Mapping[str, OptionValue]], str | None]

# The extensions that say what kind an item is; a platform's MediaRule narrows them.
IMAGE_EXTENSIONS = frozenset(
    {"jpg", "jpeg", "png", "webp", "gif", "heic", "heif", "bmp", "tif", "tiff", "avif"}
)
VIDEO_EXTENSIONS = frozenset({"mp4", "mov", "webm", "m4v", "avi", "mkv", "mpeg", "mpg", "3gp"})

# The default of a mapping field: one read-only empty mapping, never a shared dict.
EMPTY: Mapping[str, Any] = MappingProxyType({})

# Bytes read for one item the tool uploads itself, where the platform documents no bound.
DEFAULT_MAX_BYTES = 100 * 1024**2


class MediaRule(NamedTuple):
    """How a platform takes one kind of media."""

    formats: frozenset[str]  # the file extensions it documents
    # The tool uploads a file from the media root itself; otherwise the platform fetches
    # a public URL and local files are refused at `schedule`.
    local_files: bool = False
    https_only: bool = False  # the platform fetches URLs over TLS only
    max_bytes: int = DEFAULT_MAX_BYTES  # the most the tool reads when it uploads one item
    # The logins (Login.name) whose accounts the tool uploads files for; empty: every one.
    # An account of another login takes this kind as public URLs only.
    local_logins: tuple[str, ...] = ()


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class MediaLimit(NamedTuple):
    """What a platform documents for one kind of media in one post type, beyond its formats.

    The platform checks these when it fetches or processes the media; studio-publish checks
    a size only where it reads the file itself (``MediaRule.max_bytes`` of a kind it
    uploads). They are declared here so an operator can read every limit in one place (the
    README's table is made from these declarations).
    """

    max_bytes: int | None = None
    min_seconds: int | None = None  # a video's shortest duration
    max_seconds: int | None = None  # a video's longest duration


class TextRule(NamedTuple):
    """A limit on a text field: its length, counted as the platform counts it."""

    max_length: int
    unit: str = "characters"  # what ``count`` counts, for messages
    max_hashtags: int | None = None
    max_mentions: int | None = None
    counter: Callable[[str], int] = len  # a platform that counts otherwise says how
    # A lower hashtag count the platform announced but its API does not document: more than
    # this is accepted with a warning (``advice`` says why), not refused.
    advised_hashtags: int | None = None
    advice: str = ""

    def length(self, text: str) -> int:
        return self.counter(text)


class PostTypeRule(NamedTuple):
    """One post type of a platform: how many media items of which kinds, and its caption."""

    items: tuple[int, int]  # fewest and most media items
    kinds: frozenset[str]  # the media kinds it takes
    caption: TextRule | None  # None: this type takes no caption (refused, never dropped)
    # A post of this type needs a caption, or this option when it names one (a link post).
    needs_caption: bool = False
    or_option: str | None = None
    limits: Mapping[str, MediaLimit] = EMPTY  # by media kind
    # Kinds this type takes only as public URLs, though the platform's MediaRule uploads
    # local files of that kind for other types.
    urls_only: frozenset[str] = frozenset()


class OptionRule(NamedTuple):
    """One ``--option KEY=VALUE`` a platform takes, for some of its post types."""

    kind: Literal["bool", "int", "str", "url", "choice"]
    types: frozenset[str]  # the post types it applies to
    minimum: int = 0
    maximum: int | None = None
    choices: tuple[str, ...] = ()  # for kind "choice"
    required: bool = False  # every post of these types must set it (no default is safe)
    text: TextRule | None = None  # for kind "str": its length limit
    media_index: bool = False  # an index into the post's media items
    default: OptionValue | None = None  # what leaving it out means (read by ``only_with``)
    # Taken only while another option holds this value (that option's default when it is
    # left out), e.g. TikTok's Direct Post settings with post_mode=direct. Given otherwise it
    # is refused (never silently dropped), and ``required`` holds only then.
    only_with: tuple[str, OptionValue] | None = None

    def applies(self, options: Mapping[str, OptionValue], rules: Mapping[str, OptionRule]) -> bool:
        """Whether this option is taken alongside ``options`` (see ``only_with``)."""
        if self.only_with is None:
            return True
        key, wanted = self.only_with
        return options.get(key, rules[key].default) == wanted


def option(
    kind: Literal["bool", "int", "str", "url", "choice"],
    *types: str,
    minimum: int = 0,
    maximum: int | None = None,
    choices: tuple[str, ...] = (),
    required: bool = False,
    text: TextRule | None = None,
    media_index: bool = False,
    default: OptionValue | None = None,
    only_with: tuple[str, OptionValue] | None = None,
) -> OptionRule:
    return OptionRule(
        kind,
        frozenset(types),
        minimum,
        maximum,
        choices,
        required,
        text,
        media_index,
        default,
        only_with,
    )


class FirstCommentRule(NamedTuple):
    """A platform's first comments (``--first-comment``, ``options.first_comment``): a
    comment the account posts under its own post once it is live (engine/comments.py)."""

    text: TextRule  # the comment's length (and hashtag) limits, counted as the platform does
    types: frozenset[str]  # the post types that take comments
    source: str = ""  # the documentation's URL


class DemoPost(NamedTuple):
    caption: str
    media: tuple[str, ...]  # URLs, or LOCAL_VIDEO for a file the demo writes in its media root
    options: tuple[str, ...] = ()  # KEY=VALUE
    post_type: str | None = None


LOCAL_VIDEO = "LOCAL_VIDEO"


class Demo(NamedTuple):
    """The sample account and posts `studio-publish demo` publishes to the sandbox."""

    platform_account_id: str
    name: str
    posts: tuple[DemoPost, ...]
    refresh_token: str | None = None
    username: str | None = None
    settings: Mapping[str, str] = EMPTY  # e.g. a demo client key


class CountedQuota(NamedTuple):
    """A publishing limit the platform documents but gives no call to read (Facebook's 30
    API-published reels a Page in 24 hours): run-due counts the account's own posts of these
    types that went live in the moving window, and a post that would exceed it waits, using
    no attempt, until the oldest leaves the window."""

    post_types: frozenset[str]
    most: int
    window: dt.timedelta
    source: str  # the documentation's URL


class TokenLifetimes(NamedTuple):
    """How long a platform documents its tokens to last, for operators and the sandbox. The
    clients use what each token answer says (``expires_in``), never these."""

    access: dt.timedelta | None  # None: it does not expire
    refresh: dt.timedelta | None = None  # None: the platform issues no refresh token
    rotated: bool = False  # a refresh returns a new refresh token; the old one stops working
    source: str = ""  # the documentation's URL


# The account option that names the login an account was connected with (`accounts add
# --login`), in the account's ``options``; an account without it uses the platform's first.
LOGIN_OPTION = "login"


class Login(NamedTuple):
    """A way an account of a platform is connected (``accounts add --login NAME``): the login
    that issued its token decides where its calls go and how its token stays fresh.

    A platform with one way of connecting declares none; its spec's own fields are that one
    (``PlatformSpec.login``)."""

    name: str  # the --login value, kept in the account's options as LOGIN_OPTION
    display_name: str  # Meta's name for it: "Facebook Login", "Instagram Login"
    api_base_setting: str  # the Settings field naming the API base its tokens work on
    # run-due refreshes expiring access tokens: with a refresh token when the platform
    # issues one (``token_lifetimes.refresh``), else the access token refreshes itself.
    refreshes_tokens: bool = False
    # How long before the access token expires run-due refreshes it (when a post is due).
    refresh_margin: dt.timedelta = dt.timedelta(minutes=10)
    token_lifetimes: TokenLifetimes | None = None  # as documented (see TokenLifetimes)


class PlatformSpec(NamedTuple):
    name: str  # as stored in the platform columns and given to --platform
    display_name: str
    account_id_label: str  # what platform_account_id holds, for --help
    post_types: Mapping[str, PostTypeRule]
    media: Mapping[str, MediaRule]  # by kind: image, video
    options: Mapping[str, OptionRule]
    # The type a post gets when none is given, by what it holds: "text" (no media), "image",
    # "video" (one of either) and "carousel" (several). A missing "text" means media is needed.
    default_types: Mapping[str, str]
    client: str  # "module:Class" of its client, imported only when a client is made
    demo: Demo
    type_hints: Mapping[str, str] = EMPTY  # why a type is missing
    option_checks: tuple[OptionCheck, ...] = ()
    post_warnings: tuple[PostWarning, ...] = ()
    account_options: Mapping[str, str] = EMPTY  # name -> meaning (bool)
    # run-due refreshes expiring access tokens, so the refresh token's expiry is what counts.
    refreshes_tokens: bool = False
    # How long before the access token expires run-due refreshes it (when a post is due).
    refresh_margin: dt.timedelta = dt.timedelta(minutes=10)
    # The account's publishing quota the client reads and run-due saves, for `status`.
    quota: str | None = None
    token_lifetimes: TokenLifetimes | None = None  # as documented (see TokenLifetimes)
    api_base_setting: str = ""  # the Settings field naming its API base URL
    counted_quota: CountedQuota | None = None  # a limit no call reads (see CountedQuota)
    # What `status POST_ID` says of a post whose saved ids (platform_state) hold a key: the
    # key, and the sentence (TikTok: the post went to the creator's inbox, not the profile).
    state_notes: Mapping[str, str] = EMPTY
    # The ways an account connects, when there are several: the first is the default, and
    # the fields above repeat it (the README's tables and `status` read them).
    logins: tuple[Login, ...] = ()
    # Its first comments; None: its posts take none (``--first-comment`` is refused).
    first_comment: FirstCommentRule | None = None

    def login(self, options: Mapping[str, Any] | None = None) -> Login:
        """How an account with ``options`` is connected: the login they name, else the
        platform's first (a row written by SQL names none)."""
        chosen = (options or {}).get(LOGIN_OPTION)
        for login in self.logins:
            if login.name == chosen:
                return login
        if self.logins:
            return self.logins[0]
        return Login(
            "",
            self.display_name,
            self.api_base_setting,
            self.refreshes_tokens,
            self.refresh_margin,
            self.token_lifetimes,
        )

    def make_client(self, settings: Settings) -> Platform:
        """The platform's client; its module is imported here, so specs stay cheap to load."""
        module, _, name = self.client.partition(":")
        cls: Callable[[Settings], Platform] = getattr(importlib.import_module(module), name)
        return cls(settings)

    def upload_cap(self, post_type: str, kind: str) -> int:
        """The most bytes the tool reads of one ``kind`` item it uploads itself in a
        ``post_type`` post: the type's documented size within the kind's ``max_bytes``."""
        most = self.media[kind].max_bytes
        rule = self.post_types.get(post_type)
        limit = rule.limits.get(kind) if rule else None
        return most if limit is None or limit.max_bytes is None else min(limit.max_bytes, most)

    @property
    def max_items(self) -> int:
        """The most media items any post of this platform holds."""
        return max(rule.items[1] for rule in self.post_types.values())

    def with_article(self) -> str:
        """ "an Instagram", "a TikTok": the name with its article, for messages."""
        article = "an" if self.display_name[0] in "AEIOU" else "a"
        return f"{article} {self.display_name}"
