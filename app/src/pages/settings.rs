//! Settings: `/settings/password` (one's own password), `/settings/tokens` (one's own API
//! tokens), `/settings/users` (admins: add users, change roles, disable, reset passwords, see
//! and revoke each user's API tokens) and
//! `/settings/connections` (admins: the clusters Berth captures snapshots from).
//!
//! Every form is an `ActionForm` over a server function: with JavaScript it is sent by the
//! CSRF-sending client and the page updates in place; without, it is posted with the hidden
//! `csrf_token` field and the server sends the browser back here.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{
    list_connections, list_tokens, list_users, AddConnection, AddUser, ChangePassword, ChangeUser,
    CreateToken, DeleteConnection, RevokeToken, RevokeUserToken, SetDecisionLog,
};
use crate::components::error_notice::ErrorNotice;
use crate::components::feedback::{hydration_flag, outcome};
use crate::csrf::CsrfField;
use crate::resource::page_resource;
use crate::types::{ConnectionView, TokenView, UserView, ROLES};

#[component]
pub fn PasswordPage() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let hydrated = hydration_flag();
    view! {
        <Title text="Change password"/>
        <section class="page narrow" data-test="password-page" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Change password"</h1>
            <p class="muted">"Your other sessions end when the password changes; this one stays signed in."</p>
            <ActionForm action=change attr:class="form">
                <CsrfField/>
                <label>"Current password"
                    <input type="password" name="current" autocomplete="current-password" required data-test="current-password"/>
                </label>
                <label>"New password"
                    <input type="password" name="new" autocomplete="new-password" minlength="8" required data-test="new-password"/>
                </label>
                <label>"New password, again"
                    <input type="password" name="confirm" autocomplete="new-password" minlength="8" required data-test="confirm-password"/>
                </label>
                <button type="submit" class="button primary" data-test="change-password">"Change password"</button>
            </ActionForm>
            {outcome(change, "Password changed.")}
        </section>
    }
}

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = page_resource(
        move || (create.version().get(), revoke.version().get()),
        |_| list_tokens(),
    );
    let hydrated = hydration_flag();
    view! {
        <Title text="API tokens"/>
        <section class="page narrow" data-test="tokens-page" data-hydrated=move || hydrated.get().to_string()>
            <h1>"API tokens"</h1>
            <p class="muted">
                "A token acts as you, with your role, for scripts and CI: send it as "
                <code>"Authorization: Bearer TOKEN"</code>
                ". It is shown once, when it is created; Berth keeps only a digest."
            </p>
            <ActionForm action=create attr:class="form inline">
                <CsrfField/>
                <label>"Name"
                    <input type="text" name="name" required maxlength="100" placeholder="ci-pipeline" data-test="token-name"/>
                </label>
                <button type="submit" class="button primary" data-test="create-token">"Create token"</button>
            </ActionForm>
            {move || create.value().with(|value| match value {
                Some(Ok(created)) => Some(view! {
                    <div class="notice ok" role="status">
                        <p>"Token " <strong>{created.name.clone()}</strong> " created. Copy it now: it will not be shown again."</p>
                        <code class="secret" data-test="new-token">{created.token.clone()}</code>
                    </div>
                }.into_any()),
                Some(Err(error)) => Some(view! { <p class="notice error" role="alert" data-test="outcome-error">{error.to_string()}</p> }.into_any()),
                None => None,
            })}
            {outcome(revoke, "Token revoked.")}
            <Suspense fallback=|| view! { <p class="loading">"Loading tokens…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorNotice errors/> }>
                    {move || Suspend::new(async move {
                        tokens.await.map(|tokens| view! { <TokenTable tokens revoke/> })
                    })}
                </ErrorBoundary>
            </Suspense>
        </section>
    }
}

#[component]
fn TokenTable(tokens: Vec<TokenView>, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    if tokens.is_empty() {
        return view! { <p class="muted" data-test="no-tokens">"You have no tokens."</p> }.into_any();
    }
    view! {
        <table class="table" data-test="token-table">
            <thead><tr><th>"Name"</th><th>"Created"</th><th>"Last used"</th><th><span class="visually-hidden">"Revoke"</span></th></tr></thead>
            <tbody>
                {tokens.into_iter().map(|token| view! {
                    <tr data-test="token-row" data-token=token.name.clone()>
                        <td>{token.name.clone()}</td>
                        <td>{token.created_at.clone()}</td>
                        <td>{token.last_used_at.clone().unwrap_or_else(|| "never".into())}</td>
                        <td>
                            <ActionForm action=revoke>
                                <CsrfField/>
                                <input type="hidden" name="id" value=token.id/>
                                <button type="submit" class="button danger" data-test="revoke-token">"Revoke"</button>
                            </ActionForm>
                        </td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let add = ServerAction::<AddUser>::new();
    let change = ServerAction::<ChangeUser>::new();
    let revoke = ServerAction::<RevokeUserToken>::new();
    let users = page_resource(
        move || {
            (
                add.version().get(),
                change.version().get(),
                revoke.version().get(),
            )
        },
        |_| list_users(),
    );
    let hydrated = hydration_flag();
    view! {
        <Title text="Users"/>
        <section class="page" data-test="users-page" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Users"</h1>
            <h2>"Add a user"</h2>
            <ActionForm action=add attr:class="form inline">
                <CsrfField/>
                <label>"Username" <input type="text" name="username" required maxlength="64" data-test="new-username"/></label>
                <label>"Role" <RoleSelect name="role" selected="viewer"/></label>
                <label>"Password"
                    <input type="password" name="password" autocomplete="new-password" minlength="8" required data-test="new-user-password"/>
                </label>
                <button type="submit" class="button primary" data-test="add-user">"Add user"</button>
            </ActionForm>
            {outcome(add, "User added.")}
            {outcome(change, "User changed.")}
            {outcome(revoke, "Token revoked.")}
            <Suspense fallback=|| view! { <p class="loading">"Loading users…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorNotice errors/> }>
                    {move || Suspend::new(async move {
                        users.await.map(|users| view! { <UserTable users change revoke/> })
                    })}
                </ErrorBoundary>
            </Suspense>
        </section>
    }
}

#[component]
fn RoleSelect(
    name: &'static str,
    selected: &'static str,
    /// The select's accessible name where no `<label>` wraps it (a row of the users' table).
    #[prop(optional, into)]
    label: Option<String>,
) -> impl IntoView {
    view! {
        <select name=name data-test="role-select" aria-label=label>
            {ROLES.iter().map(|role| view! { <option value=*role selected=*role == selected>{*role}</option> }).collect_view()}
        </select>
    }
}

#[component]
fn UserTable(
    users: Vec<UserView>,
    change: ServerAction<ChangeUser>,
    revoke: ServerAction<RevokeUserToken>,
) -> impl IntoView {
    view! {
        <p class="muted">
            "Disabling a user or resetting their password ends their sessions and revokes their API tokens."
        </p>
        <table class="table" data-test="user-table">
            <thead><tr><th>"User"</th><th>"Role"</th><th>"State"</th><th>"Reset password"</th><th>"API tokens"</th></tr></thead>
            <tbody>
                {users.into_iter().map(|user| {
                    let name = user.username.clone();
                    let (row_name, cell_name, role_name, role_label, state_name, password_name, tokens_name) =
                        (name.clone(), name.clone(), name.clone(), name.clone(), name.clone(), name.clone(), name);
                    let role: &'static str = ROLES.iter().find(|role| **role == user.role).copied().unwrap_or("viewer");
                    let (state, toggle_label, toggle_to) = if user.disabled {
                        ("disabled", "Enable", "false")
                    } else {
                        ("active", "Disable", "true")
                    };
                    view! {
                        <tr data-test="user-row" data-user=row_name data-role=user.role.clone() data-disabled=user.disabled.to_string()>
                            <td>{cell_name}<div class="muted small">"since " {user.created_at.clone()}</div></td>
                            <td>
                                <ActionForm action=change attr:class="form inline">
                                    <CsrfField/>
                                    <input type="hidden" name="username" value=role_name/>
                                    <RoleSelect name="role" selected=role label=format!("Role of {role_label}")/>
                                    <button type="submit" class="button" data-test="save-role">"Save"</button>
                                </ActionForm>
                            </td>
                            <td>
                                <ActionForm action=change attr:class="form inline">
                                    <CsrfField/>
                                    <input type="hidden" name="username" value=state_name/>
                                    <input type="hidden" name="disabled" value=toggle_to/>
                                    <span class=format!("badge {state}")>{state}</span>
                                    <button type="submit" class="button" data-test="toggle-disabled">{toggle_label}</button>
                                </ActionForm>
                            </td>
                            <td>
                                {if user.external {
                                    view! { <span class="muted" data-test="external-account">"Single sign-on: no password in Berth"</span> }.into_any()
                                } else {
                                    view! {
                                        <ActionForm action=change attr:class="form inline">
                                            <CsrfField/>
                                            <input type="password" name="password" autocomplete="new-password" minlength="8" required placeholder="new password"
                                                aria-label=format!("New password for {password_name}") data-test="reset-password"/>
                                            <input type="hidden" name="username" value=password_name/>
                                            <button type="submit" class="button" data-test="save-password">"Reset"</button>
                                        </ActionForm>
                                    }.into_any()
                                }}
                            </td>
                            <td><UserTokens username=tokens_name tokens=user.tokens.clone() revoke/></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// One user's API tokens in their row of the Users page, each with its Revoke button.
#[component]
fn UserTokens(
    username: String,
    tokens: Vec<TokenView>,
    revoke: ServerAction<RevokeUserToken>,
) -> impl IntoView {
    if tokens.is_empty() {
        return view! { <span class="muted" data-test="user-no-tokens">"none"</span> }.into_any();
    }
    view! {
        <ul class="user-tokens" data-test="user-tokens">
            {tokens.into_iter().map(|token| {
                let title = format!(
                    "created {}, last used {}",
                    token.created_at,
                    token.last_used_at.as_deref().unwrap_or("never")
                );
                let (row_name, shown_name) = (token.name.clone(), token.name);
                let username = username.clone();
                view! {
                    <li data-test="user-token" data-token=row_name>
                        <ActionForm action=revoke attr:class="form inline">
                            <CsrfField/>
                            <input type="hidden" name="username" value=username/>
                            <input type="hidden" name="id" value=token.id/>
                            <span title=title>{shown_name}</span>
                            <button type="submit" class="button danger" data-test="revoke-user-token">"Revoke"</button>
                        </ActionForm>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
pub fn ConnectionsPage() -> impl IntoView {
    let add = ServerAction::<AddConnection>::new();
    let delete = ServerAction::<DeleteConnection>::new();
    let log = ServerAction::<SetDecisionLog>::new();
    let connections = page_resource(
        move || (add.version().get(), delete.version().get(), log.version().get()),
        |_| list_connections(),
    );
    let hydrated = hydration_flag();
    view! {
        <Title text="Connections"/>
        <section class="page" data-test="connections-page" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Connections"</h1>
            <p class="muted">
                "Clusters Berth reads snapshots from. Over the unix socket Berth has the access of its own user; over HTTPS "
                "it presents a client certificate the cluster trusts. The client key stays on the server: it is never shown again."
            </p>
            <Suspense fallback=|| view! { <p class="loading">"Loading connections…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorNotice errors/> }>
                    {move || Suspend::new(async move {
                        connections.await.map(|list| view! { <ConnectionTable list delete log/> })
                    })}
                </ErrorBoundary>
            </Suspense>
            {outcome(delete, "Connection deleted.")}
            {outcome(log, "Decision log changed.")}
            <h2>"Add a connection"</h2>
            <ActionForm action=add attr:class="form">
                <CsrfField/>
                <label>"Name" <input type="text" name="name" required maxlength="64" placeholder="prod" data-test="connection-name"/></label>
                <label>"Remote"
                    <input type="text" name="remote" required placeholder="unix:///var/lib/incus/unix.socket or https://10.0.0.1:8443" data-test="connection-remote"/>
                </label>
                <fieldset>
                    <legend>"HTTPS only"</legend>
                    <label>"Client certificate (PEM)" <textarea name="client_cert" rows="3" class="mono" data-test="connection-client-cert"></textarea></label>
                    <label>"Client key (PEM)" <textarea name="client_key" rows="3" class="mono" autocomplete="off" data-test="connection-client-key"></textarea></label>
                    <p class="muted small">"Trust the server by exactly one of:"</p>
                    <label>"Server certificate (PEM)" <textarea name="server_cert" rows="3" class="mono"></textarea></label>
                    <label>"CA certificate (PEM)" <textarea name="server_ca" rows="3" class="mono"></textarea></label>
                    <label>"Server certificate fingerprint (SHA-256, hex)" <input type="text" name="server_fingerprint" class="mono"/></label>
                </fieldset>
                <button type="submit" class="button primary" data-test="add-connection">"Add connection"</button>
            </ActionForm>
            {outcome(add, "Connection added.")}
        </section>
    }
}

#[component]
fn ConnectionTable(
    list: Vec<ConnectionView>,
    delete: ServerAction<DeleteConnection>,
    log: ServerAction<SetDecisionLog>,
) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="empty" data-test="no-connections">"No connection yet."</p> }.into_any();
    }
    view! {
        <table class="table" data-test="connection-table">
            <thead><tr><th>"Name"</th><th>"Remote"</th><th>"Credential"</th><th>"Trust"</th><th>"Added"</th><th>"Decision log"</th><th><span class="visually-hidden">"Delete"</span></th></tr></thead>
            <tbody>
                {list.into_iter().map(|connection| {
                    let name = connection.name.clone();
                    view! {
                    <tr data-test="connection-row" data-decision-log=connection.decision_log.to_string()>
                        <td>{connection.name.clone()}</td>
                        <td class="mono">{connection.remote}</td>
                        <td>{connection.credential}</td>
                        <td>{connection.trust}</td>
                        <td>{format!("{} by {}", connection.created_at, connection.created_by)}</td>
                        <td>
                            <ActionForm action=log>
                                <CsrfField/>
                                <input type="hidden" name="connection" value=name/>
                                <input type="hidden" name="on" value=(!connection.decision_log).to_string()/>
                                <span class="small">{if connection.decision_log { "on " } else { "off " }}</span>
                                <button type="submit" class="button" data-test="toggle-decision-log">
                                    {if connection.decision_log { "Turn off" } else { "Turn on" }}
                                </button>
                            </ActionForm>
                        </td>
                        <td>
                            <ActionForm action=delete>
                                <CsrfField/>
                                <input type="hidden" name="name" value=connection.name/>
                                <button type="submit" class="button danger" data-test="delete-connection">"Delete"</button>
                            </ActionForm>
                        </td>
                    </tr>
                }}).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
