"""Accounts: log in and out of the page, who am I, personal tokens, and (管理员) the users."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from router.api.deps import (
    BOOTSTRAP,
    CSRF_COOKIE,
    SESSION_COOKIE,
    AnyCaller,
    CurrentAccount,
    DbDep,
    RowId,
    SettingsDep,
)
from router.api.errors import problems
from router.ledger import accounts
from router.ledger.accounts import Account, User
from router.ledger.schemas import from_row

router = APIRouter(tags=["账号"])
Role = Literal["分办人员", "承办单位经办人", "审核领导", "管理员"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class LoginRequest(_In):
    name: str = Field(min_length=1, max_length=64, description="账号名")
    password: str = Field(min_length=1, max_length=200)


class Me(BaseModel):
    name: str
    role: str
    unit: str | None
    via: str = Field(description="session（页面登录）、token（个人令牌）、dev（本地开发）")
    csrf: str | None = Field(default=None, description="页面写操作须放在请求头 X-CSRF-Token 中")


class UserCreate(_In):
    name: str = Field(min_length=1, max_length=64)
    role: Role
    unit: str | None = Field(default=None, description="承办单位经办人所属单位")
    password: str | None = Field(
        default=None, max_length=200, description="不填则生成一个，只在本次返回"
    )


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # a User row's columns as they are

    id: int
    name: str
    role: str
    unit: str | None
    active: bool
    created_by: str
    created_at: datetime


class UserCreated(UserPublic):
    password: str | None = Field(description="生成的初始密码（只显示这一次）")


class TokenCreate(_In):
    label: str = Field(default="个人令牌", max_length=100)


class TokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # an ApiToken row's columns as they are

    id: int
    label: str
    created_at: datetime
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    token: str = Field(description="令牌本身，只显示这一次")


@router.post("/auth/login", response_model=Me, responses=problems(400, 401, 422, 429))
def login(
    body: LoginRequest, request: Request, response: Response, db: DbDep, settings: SettingsDep
) -> Me:
    """页面登录：设置 HttpOnly、SameSite=Strict 的会话 Cookie，返回 CSRF 令牌。"""
    try:
        user = accounts.authenticate(db, body.name, body.password)
    except accounts.LockedError as exc:
        raise HTTPException(429, exc.message, headers={"Retry-After": "900"}) from exc
    if user is None:
        db.commit()  # the count of wrong passwords
        raise HTTPException(401, "账号或密码不正确，或账号已停用。")
    plain, csrf = accounts.start_session(db, user, hours=settings.session_hours)
    db.commit()
    secure = settings.cookie_secure
    if secure is None:
        secure = request.url.scheme == "https"
    age = int(settings.session_hours * 3600)
    response.set_cookie(
        SESSION_COOKIE, plain, max_age=age, httponly=True, samesite="strict", secure=secure
    )
    # double submit: the page reads this one and sends it back in X-CSRF-Token
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=age, httponly=False, samesite="strict", secure=secure
    )
    return Me(name=user.name, role=user.role, unit=user.unit, via="session", csrf=csrf)


@router.post("/auth/logout", status_code=204, responses=problems(401, 403))
def logout(request: Request, response: Response, db: DbDep, _who: AnyCaller) -> Response:
    """退出登录：会话立即失效。"""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        accounts.end_session(db, cookie)
        db.commit()
    out = Response(status_code=204)
    out.delete_cookie(SESSION_COOKIE)
    out.delete_cookie(CSRF_COOKIE)
    return out


@router.get("/auth/me", response_model=Me, responses=problems(401))
def me(request: Request, who: AnyCaller) -> Me:
    """当前账号、角色和单位。"""
    csrf = request.cookies.get(CSRF_COOKIE) if who.via == "session" else None
    return Me(name=who.name, role=who.role, unit=who.unit, via=who.via, csrf=csrf)


# -- personal tokens -----------------------------------------------------------------------
def _user(db: DbDep, who: CurrentAccount) -> User:
    if who.id is None:
        raise HTTPException(403, "本地开发模式没有账号，不能发放个人令牌。")
    return accounts.get_user(db, who.name)


@router.post(
    "/auth/tokens", response_model=TokenCreated, status_code=201, responses=problems(401, 403)
)
def create_token(
    body: TokenCreate, db: DbDep, user: Annotated[User, Depends(_user)]
) -> TokenCreated:
    """为自己发放一个个人访问令牌（只显示一次；数据库只存其 SHA-256）。"""
    token, plain = accounts.create_token(db, user, body.label)
    db.commit()
    return from_row(TokenCreated, token, token=plain)


@router.get("/auth/tokens", response_model=list[TokenPublic], responses=problems(401, 403))
def list_tokens(db: DbDep, user: Annotated[User, Depends(_user)]) -> list[TokenPublic]:
    """自己的个人令牌。"""
    return [TokenPublic.model_validate(t) for t in accounts.list_tokens(db, user)]


@router.delete(
    "/auth/tokens/{token_id}", response_model=TokenPublic, responses=problems(401, 403, 404)
)
def revoke_token(token_id: RowId, db: DbDep, user: Annotated[User, Depends(_user)]) -> TokenPublic:
    """撤销自己的一个令牌，立即失效。"""
    token = accounts.revoke_token(db, token_id, owner=user)
    db.commit()
    return TokenPublic.model_validate(token)


# -- users (管理员; ROUTER_API_TOKEN only for the first administrator) -----------------------
def _admin_or_bootstrap(who: AnyCaller) -> Account:
    if who.role not in ("管理员", BOOTSTRAP):
        raise HTTPException(403, "没有权限：账号管理仅限管理员。")
    return who


AdminOrBootstrap = Annotated[Account, Depends(_admin_or_bootstrap)]


@router.post(
    "/users", response_model=UserCreated, status_code=201, responses=problems(401, 403, 409, 422)
)
def add_user(body: UserCreate, db: DbDep, who: AdminOrBootstrap) -> UserCreated:
    """新建账号。ROUTER_API_TOKEN 在还没有管理员时只能建管理员。"""
    if who.via == "bootstrap" and body.role != "管理员":
        raise HTTPException(
            403, "ROUTER_API_TOKEN 只能创建第一个管理员账号；其余账号请由管理员创建。"
        )
    generated = body.password is None
    password = body.password or accounts.new_password()
    user = accounts.add_user(
        db, body.name, body.role, unit=body.unit, password=password, actor=who.name
    )
    db.commit()
    return from_row(UserCreated, user, password=password if generated else None)


@router.get("/users", response_model=list[UserPublic], responses=problems(401, 403))
def list_users(db: DbDep, _who: AdminOrBootstrap) -> list[UserPublic]:
    """全部账号。"""
    return [UserPublic.model_validate(u) for u in accounts.list_users(db)]


class UserChange(_In):
    active: bool | None = None
    reset_password: bool = Field(
        default=False, description="生成新密码（只返回一次），会话全部失效"
    )


@router.post("/users/{name}", response_model=UserCreated, responses=problems(401, 403, 404, 422))
def change_user(name: str, body: UserChange, db: DbDep, who: AdminOrBootstrap) -> UserCreated:
    """停用/启用账号，或重置密码。停用时其会话和令牌全部失效。"""
    if who.via == "bootstrap":
        raise HTTPException(403, "ROUTER_API_TOKEN 只能创建第一个管理员账号。")
    user = accounts.get_user(db, name)
    password = None
    if body.active is not None:
        if not body.active and user.name == who.name:
            raise HTTPException(422, "不能停用自己的账号。")
        user = accounts.set_active(db, name, body.active)
    if body.reset_password:
        password = accounts.new_password()
        user = accounts.reset_password(db, name, password)
    db.commit()
    return from_row(UserCreated, user, password=password)
