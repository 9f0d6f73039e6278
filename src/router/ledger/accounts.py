"""Accounts: who may do what in the ledger.

Four roles, in the office's own words: 分办人员 (the supervision office, who registers and
decides), 承办单位经办人 (a handling unit's clerk, bound to one unit), 审核领导 (reads
everything, sends poor replies back) and 管理员 (accounts and settings, and the office's work).

Passwords are hashed with Argon2id (argon2-cffi). The page logs in with a session (a random
token in an HttpOnly cookie, stored here only as its SHA-256); API clients use personal
tokens, also stored as SHA-256 and revocable. Random 256-bit tokens need no slow hash: there
is nothing to guess. Functions flush, never commit, like the rest of the ledger.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from router.labels import load_labels
from router.ledger.models import Base, UTCDateTime
from router.ledger.ops import InvalidError, LedgerError, NotFoundError, utcnow
from router.settings import Settings, get_settings

ROLES = ("分办人员", "承办单位经办人", "审核领导", "管理员")
UNIT_ROLE = "承办单位经办人"
OFFICE_ROLES = ("分办人员", "管理员")  # decide, register, approve, supervise
READ_ALL_ROLES = ("分办人员", "审核领导", "管理员")  # see the whole ledger
TOKEN_PREFIX = "rt_"
MIN_PASSWORD = 10


def password_hasher(settings: Settings) -> PasswordHasher:
    """Argon2id with the settings' cost (``ROUTER_PASSWORD_*``)."""
    return PasswordHasher(
        time_cost=settings.password_time_cost,
        memory_cost=settings.password_memory_kib,
        parallelism=settings.password_parallelism,
    )


@functools.cache
def _hasher() -> PasswordHasher:
    """The process's hasher, from its environment, once: the cost is a property of the
    machine, not of one app, and functions here take a session, not settings."""
    return password_hasher(get_settings())


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint(
            f"(role = '{UNIT_ROLE}' AND unit IS NOT NULL) OR (role <> '{UNIT_ROLE}' AND unit IS NULL)",
            name="unit",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str | None] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginSession(Base):
    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True)
class Account:
    """Who is making a request: an account, the bootstrap token, or local development."""

    id: int | None
    name: str
    role: str
    unit: str | None
    via: str  # session | token | bootstrap | dev

    @property
    def is_office(self) -> bool:
        return self.role in OFFICE_ROLES

    @property
    def reads_all(self) -> bool:
        return self.role in READ_ALL_ROLES


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def account_of(user: User, via: str) -> Account:
    return Account(user.id, user.name, user.role, user.unit, via)


# -- users --------------------------------------------------------------------------------
def check_role(role: str, unit: str | None) -> str | None:
    """The unit label for ``role`` (aliases read), or a :class:`InvalidError`."""
    if role not in ROLES:
        raise InvalidError(f"未知的角色：{role}（可选：{'、'.join(ROLES)}）")
    if role != UNIT_ROLE:
        if unit:
            raise InvalidError(f"只有{UNIT_ROLE}绑定承办单位；{role}不需要 --unit。")
        return None
    if not unit:
        raise InvalidError(f"{UNIT_ROLE}必须指定承办单位（--unit）。")
    labels = load_labels()
    try:
        label = labels.canonical(unit)  # 交警支队 is 交通管理
    except ValueError:
        label = ""
    if label not in labels.unit_labels:
        raise InvalidError(f"未知的承办单位：{unit}（可选：{'、'.join(labels.unit_labels)}）")
    return label


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidError(f"密码太短，至少 {MIN_PASSWORD} 个字符。")
    if len(password) > 200:
        raise InvalidError("密码过长（上限 200 个字符）。")


def new_password() -> str:
    return secrets.token_urlsafe(12)


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 64 or any(c.isspace() or ord(c) < 32 for c in name):
        raise InvalidError("账号名无效：1 到 64 个字符，不含空格和控制字符。")
    return name


def add_user(
    db: Session,
    name: str,
    role: str,
    *,
    unit: str | None = None,
    password: str,
    actor: str,
    now: datetime | None = None,
) -> User:
    now = now or utcnow()
    name = _check_name(name)
    label = check_role(role, unit)
    check_password(password)
    if db.scalar(select(User.id).where(User.name == name)) is not None:
        raise LedgerError(f"账号“{name}”已存在。")
    user = User(
        name=name,
        role=role,
        unit=label,
        password_hash=_hasher().hash(password),
        active=True,
        failed_logins=0,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    db.add(user)
    db.flush()
    return user


def get_user(db: Session, name: str) -> User:
    user = db.scalar(select(User).where(User.name == name.strip()))
    if user is None:
        raise NotFoundError(f"没有名为“{name}”的账号。")
    return user


def list_users(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.id)))


def has_active_admin(db: Session) -> bool:
    n = db.scalar(
        select(func.count()).select_from(User).where(User.role == "管理员", User.active.is_(True))
    )
    return bool(n)


def set_active(db: Session, name: str, active: bool, *, now: datetime | None = None) -> User:
    """Disable (or enable) an account; disabling ends its sessions and revokes its tokens."""
    now = now or utcnow()
    user = get_user(db, name)
    user.active = active
    user.updated_at = now
    if not active:
        _end_everything(db, user.id, now)
    db.flush()
    return user


def reset_password(db: Session, name: str, password: str, *, now: datetime | None = None) -> User:
    """A new password; the account's sessions end (its API tokens stay until revoked)."""
    now = now or utcnow()
    check_password(password)
    user = get_user(db, name)
    user.password_hash = _hasher().hash(password)
    user.updated_at = now
    user.failed_logins, user.locked_until = 0, None
    for s in db.scalars(select(LoginSession).where(LoginSession.user_id == user.id)):
        db.delete(s)
    db.flush()
    return user


def _end_everything(db: Session, user_id: int, now: datetime) -> None:
    for s in db.scalars(select(LoginSession).where(LoginSession.user_id == user_id)):
        db.delete(s)
    for t in db.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    ):
        t.revoked_at = now


class LockedError(LedgerError):
    """Too many wrong passwords in a row: the account waits (HTTP 429)."""


MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15


def authenticate(
    db: Session, name: str, password: str, *, now: datetime | None = None
) -> User | None:
    """The active account with this name and password, or None (same answer for both).

    After :data:`MAX_FAILED_LOGINS` wrong passwords in a row the account refuses every login
    for :data:`LOCK_MINUTES` minutes (:class:`LockedError`); the caller commits the count.
    """
    now = now or utcnow()
    user = db.scalar(select(User).where(User.name == name.strip()))
    if user is None:
        _hasher().hash(password)  # the same work either way: no timing hint that a name exists
        return None
    if user.locked_until is not None and user.locked_until > now:
        raise LockedError(
            f"密码连续输错 {MAX_FAILED_LOGINS} 次，账号暂停登录 {LOCK_MINUTES} 分钟，请稍后再试。"
        )
    try:
        _hasher().verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.failed_logins, user.locked_until = 0, now + timedelta(minutes=LOCK_MINUTES)
        db.flush()
        return None
    if not user.active:
        return None
    if user.failed_logins or user.locked_until is not None:
        user.failed_logins, user.locked_until = 0, None
        db.flush()
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = _hasher().hash(password)
        db.flush()
    return user


# -- personal API tokens --------------------------------------------------------------------
def create_token(
    db: Session, user: User, label: str, *, now: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new personal token; the plain value is returned once and never stored."""
    now = now or utcnow()
    if not user.active:
        raise LedgerError(f"账号“{user.name}”已停用，不能发放令牌。")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        label=(label.strip() or "个人令牌")[:100],
        token_hash=_digest(plain),
        created_at=now,
    )
    db.add(token)
    db.flush()
    return token, plain


def list_tokens(db: Session, user: User) -> list[ApiToken]:
    return list(
        db.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    )


def revoke_token(
    db: Session, token_id: int, *, owner: User | None = None, now: datetime | None = None
) -> ApiToken:
    now = now or utcnow()
    token = db.get(ApiToken, token_id)
    if token is None or (owner is not None and token.user_id != owner.id):
        raise NotFoundError(f"没有编号为 {token_id} 的令牌。")
    if token.revoked_at is None:
        token.revoked_at = now
        db.flush()
    return token


def user_for_token(db: Session, plain: str) -> User | None:
    if not plain.startswith(TOKEN_PREFIX):
        return None
    row = db.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _digest(plain))
    ).one_or_none()
    if row is None:
        return None
    token, user = row
    if token.revoked_at is not None or not user.active:
        return None
    return user


# -- page sessions --------------------------------------------------------------------------
def start_session(
    db: Session, user: User, *, hours: float, now: datetime | None = None
) -> tuple[str, str]:
    """A new login: (session token for the HttpOnly cookie, CSRF token for the page)."""
    now = now or utcnow()
    plain, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    db.add(
        LoginSession(
            user_id=user.id,
            token_hash=_digest(plain),
            csrf=csrf,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    # expired sessions of this account go as a new one starts
    for s in db.scalars(
        select(LoginSession).where(LoginSession.user_id == user.id, LoginSession.expires_at < now)
    ):
        db.delete(s)
    db.flush()
    return plain, csrf


def user_for_session(
    db: Session, plain: str, *, now: datetime | None = None
) -> tuple[User, str] | None:
    """The account and CSRF token of a live session, or None."""
    now = now or utcnow()
    row = db.execute(
        select(LoginSession, User)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.token_hash == _digest(plain))
    ).one_or_none()
    if row is None:
        return None
    session, user = row
    if session.expires_at <= now or not user.active:
        return None
    return user, session.csrf


def end_session(db: Session, plain: str) -> None:
    for s in db.scalars(select(LoginSession).where(LoginSession.token_hash == _digest(plain))):
        db.delete(s)
    db.flush()


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
