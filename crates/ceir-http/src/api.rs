//! The REST API (`/api/v1`): device status, lists with history, the TAC catalog.
//!
//! Wire types live here and only here; handlers translate them to domain types at the edge.

use crate::audit::{record_personal_read, ReqId};
use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::Json;
use ceir_domain::audit::ObjectRef;
use ceir_domain::authz::{sees_subscriber, Actor, Capability, OrgKind};
use ceir_domain::catalog::TacModel;
use ceir_domain::ids::Plmn;
use ceir_domain::lists::{Country, EntryMeta, ListKind, NewEntry, Reason, Subject};
use ceir_domain::status::Basis;
use ceir_domain::{ErrorCode, Imei, Imsi, Tac, Timestamp};
use ceir_store::{ApplyReport, Entry, HistoryRow, ListChange};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// Most entries one request may change; larger sets go through `ceir list add --file`.
pub const MAX_BATCH: usize = 10_000;

/// JSON body extractor whose rejections are problem+json like every other error.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(match e {
                JsonRejection::BytesRejection(_) => {
                    ApiError::new(ErrorCode::PayloadTooLarge, e.body_text())
                }
                _ => ApiError::new(ErrorCode::InvalidRequest, e.body_text()),
            }),
        }
    }
}

pub fn rfc3339(t: Timestamp) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.0) * 1_000_000)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.0.to_string())
}

/// Accepts an RFC 3339 date-time or a plain date (midnight UTC).
pub fn parse_time(field: &str, s: &str) -> Result<Timestamp, ApiError> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(d) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(Timestamp((d.unix_timestamp_nanos() / 1_000_000) as i64));
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &fmt)
        .map(|d| Timestamp(d.midnight().assume_utc().unix_timestamp() * 1000))
        .map_err(|_| {
            ApiError::param(
                ErrorCode::InvalidRequest,
                field,
                format!("{s:?} is not an RFC 3339 date-time or a yyyy-mm-dd date"),
            )
        })
}

fn id_err(field: &str, e: ceir_domain::IdError) -> ApiError {
    ApiError::param(e.code(), field, e.to_string())
}

fn parse_list(s: &str) -> Result<ListKind, ApiError> {
    ListKind::parse(s).map_err(|e| id_err("list", e))
}

/// A device model from the TAC catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelView {
    pub tac: String,
    pub brand: String,
    pub model: String,
    pub marketing_name: Option<String>,
    pub manufacturer: Option<String>,
    pub device_type: Option<String>,
    pub os: Option<String>,
    /// Radio technologies the model supports, e.g. "2G/3G/4G".
    pub radios: String,
    pub bands: Option<String>,
    pub allocation_date: Option<String>,
}

impl From<TacModel> for ModelView {
    fn from(m: TacModel) -> Self {
        ModelView {
            tac: m.tac.to_string(),
            brand: m.brand,
            model: m.model,
            marketing_name: m.marketing_name,
            manufacturer: m.manufacturer,
            device_type: m.device_type,
            os: m.os,
            radios: m.radios.to_string(),
            bands: m.bands,
            allocation_date: m.allocation_date,
        }
    }
}

/// Does a view field show a subscriber identifier in full (not masked)?
fn reveals(imsi: &Option<String>) -> bool {
    imsi.as_deref().is_some_and(|s| !s.contains('*'))
}

/// Which subscriber identifiers one caller sees in full; the rest are masked to their home
/// network (`40001**********`). The rule itself is `authz::sees_subscriber`.
#[derive(Debug)]
pub struct SubscriberVisibility {
    actor: Actor,
    own_plmns: Vec<Plmn>,
}

impl SubscriberVisibility {
    pub async fn of(state: &AppState, actor: &Actor) -> Result<Self, ApiError> {
        let own_plmns = if actor.org_kind == OrgKind::Operator {
            state
                .registry
                .store()
                .operators()
                .await?
                .into_iter()
                .filter(|o| o.org.as_deref() == Some(actor.org.as_str()))
                .filter_map(|o| Plmn::parse(&o.plmn).ok())
                .collect()
        } else {
            Vec::new()
        };
        Ok(SubscriberVisibility {
            actor: actor.clone(),
            own_plmns,
        })
    }

    /// The host's administrator at the command line, acting as the node itself.
    pub fn local_admin() -> Self {
        SubscriberVisibility {
            actor: Actor::system("cli"),
            own_plmns: Vec::new(),
        }
    }

    pub fn imsi(&self, imsi: Imsi) -> String {
        if sees_subscriber(&self.actor, imsi.plmn(), &self.own_plmns) {
            imsi.to_string()
        } else {
            imsi.masked()
        }
    }

    fn subject_fields(&self, s: Subject) -> (Option<String>, Option<String>, Option<String>) {
        match s {
            Subject::Imei(i) => (Some(i.to_string()), None, None),
            Subject::Pair(i, m) => (Some(i.to_string()), Some(self.imsi(m)), None),
            Subject::Tac(t) => (None, None, Some(t.to_string())),
        }
    }
}

/// An entry on a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    pub list: String,
    pub imei: Option<String>,
    /// Only for exceptions. An IMSI is personal data: shown in full only to callers with
    /// `read_subscriber_data` (operators: their own subscribers), else as `40001**********`.
    pub imsi: Option<String>,
    pub tac: Option<String>,
    /// The organisation that placed the entry and alone (with the regulator) may lift it.
    pub org: String,
    pub reason: String,
    pub reference: Option<String>,
    pub country: String,
    pub note: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub seq: u64,
}

impl EntryView {
    pub fn new(e: Entry, vis: &SubscriberVisibility) -> Self {
        let (imei, imsi, tac) = vis.subject_fields(e.subject);
        EntryView {
            list: e.list.as_str().into(),
            imei,
            imsi,
            tac,
            org: e.org,
            reason: e.reason.as_str().into(),
            reference: e.reference,
            country: e.country.to_string(),
            note: e.note,
            created_by: e.created_by,
            created_at: rfc3339(e.created_at),
            expires_at: e.expires_at.map(rfc3339),
            seq: e.seq,
        }
    }
}

/// One change in an entry's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryView {
    pub seq: u64,
    pub at: String,
    /// add, update, remove or expire.
    pub action: String,
    pub list: String,
    pub imei: Option<String>,
    /// As in `EntryView`: in full only for callers who may see this subscriber.
    pub imsi: Option<String>,
    pub tac: Option<String>,
    pub org: String,
    pub actor_org: String,
    pub actor_user: String,
    pub reason: String,
    pub reference: Option<String>,
    pub country: String,
    pub note: Option<String>,
    pub expires_at: Option<String>,
}

impl HistoryView {
    pub fn new(h: HistoryRow, vis: &SubscriberVisibility) -> Self {
        let (imei, imsi, tac) = vis.subject_fields(h.subject);
        HistoryView {
            seq: h.seq,
            at: rfc3339(h.at),
            action: h.action.as_str().into(),
            list: h.list.as_str().into(),
            imei,
            imsi,
            tac,
            org: h.org,
            actor_org: h.actor_org,
            actor_user: h.actor_user,
            reason: h.reason.as_str().into(),
            reference: h.reference,
            country: h.country.to_string(),
            note: h.note,
            expires_at: h.expires_at.map(rfc3339),
        }
    }
}

/// A device's status, the lists it is on and its model.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    /// The IMEI with its check digit.
    pub imei: String,
    pub tac: String,
    /// permitted, tracked, blocked, or unknown (node answers only for listed devices).
    pub status: String,
    /// What the EIR answers: WHITELISTED, GREYLISTED or BLACKLISTED; absent when unknown.
    pub eir_status: Option<String>,
    /// Which rule decided: exception, blocked, barred_tac, tracked, permitted or unlisted.
    pub basis: String,
    pub model: Option<ModelView>,
    pub entries: Vec<EntryView>,
}

pub fn basis_str(b: Basis) -> &'static str {
    match b {
        Basis::Exception => "exception",
        Basis::Blocked => "blocked",
        Basis::BarredTac => "barred_tac",
        Basis::Tracked => "tracked",
        Basis::Permitted => "permitted",
        Basis::Unlisted(_) => "unlisted",
    }
}

/// Every entry that bears on a device: its own (lists and exception pairs) and its TAC's bar.
/// IMEI bodies and TACs share the `subject` column, so each lookup keeps only its own kind.
pub async fn device_entries(
    store: &dyn ceir_store::Store,
    imei: Imei,
) -> Result<Vec<Entry>, ApiError> {
    let mut entries: Vec<Entry> = store
        .entries_of(imei.body())
        .await?
        .into_iter()
        .filter(|e| !matches!(e.subject, Subject::Tac(_)))
        .collect();
    for e in store.entries_of(u64::from(imei.tac().get())).await? {
        if matches!(e.subject, Subject::Tac(_)) {
            entries.push(e);
        }
    }
    Ok(entries)
}

/// Assembles a device's view as `actor` may see it; shared by the API and the CLI's `check`.
pub async fn device_view(
    state: &AppState,
    actor: &Actor,
    imei: Imei,
) -> Result<DeviceView, ApiError> {
    let (status, basis) = state.registry.check(imei, None);
    let store = state.registry.store();
    let vis = SubscriberVisibility::of(state, actor).await?;
    let entries = device_entries(store.as_ref(), imei)
        .await?
        .into_iter()
        .map(|e| EntryView::new(e, &vis))
        .collect();
    Ok(DeviceView {
        imei: imei.to_string(),
        tac: imei.tac().to_string(),
        status: status.map(|s| s.as_str()).unwrap_or("unknown").into(),
        eir_status: status.map(|s| s.wire().into()),
        basis: basis_str(basis).into(),
        model: store.tac(imei.tac()).await?.map(ModelView::from),
        entries,
    })
}

#[utoipa::path(get, path = "/api/v1/devices/{imei}", tag = "devices",
    params(("imei" = String, Path, description = "15-digit IMEI; the check digit is verified")),
    responses((status = 200, body = DeviceView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("token" = [])))]
pub async fn get_device(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    rid: ReqId,
    Path(imei): Path<String>,
) -> Result<Json<DeviceView>, ApiError> {
    let actor = caller.require(Capability::ReadLists)?;
    let imei = Imei::parse_typed(&imei).map_err(|e| id_err("imei", e))?;
    let view = device_view(&state, actor, imei).await?;
    // Exception pairs may show subscribers' IMSIs: a read that reveals one in full is audited
    // before it is answered.
    let revealed = view.entries.iter().filter(|e| reveals(&e.imsi)).count();
    if revealed > 0 {
        record_personal_read(
            &state,
            &rid.context(actor),
            ObjectRef::imei(imei),
            serde_json::json!({"route": "device", "fields": ["imsi"], "entries": revealed}),
        )
        .await?;
    }
    Ok(Json(view))
}

#[utoipa::path(get, path = "/api/v1/devices/{imei}/history", tag = "devices",
    params(("imei" = String, Path, description = "15-digit IMEI")),
    responses((status = 200, body = [HistoryView]), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("token" = [])))]
pub async fn get_history(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    rid: ReqId,
    Path(imei): Path<String>,
) -> Result<Json<Vec<HistoryView>>, ApiError> {
    let actor = caller.require(Capability::ReadLists)?;
    let imei = Imei::parse_typed(&imei).map_err(|e| id_err("imei", e))?;
    let rows = state.registry.store().history_of(imei.body()).await?;
    let vis = SubscriberVisibility::of(&state, actor).await?;
    let rows: Vec<HistoryView> = rows
        .into_iter()
        .filter(|h| !matches!(h.subject, Subject::Tac(_)))
        .map(|h| HistoryView::new(h, &vis))
        .collect();
    let revealed = rows.iter().filter(|h| reveals(&h.imsi)).count();
    if revealed > 0 {
        record_personal_read(
            &state,
            &rid.context(actor),
            ObjectRef::imei(imei),
            serde_json::json!({"route": "history", "fields": ["imsi"], "rows": revealed}),
        )
        .await?;
    }
    Ok(Json(rows))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// At most 1000.
    pub limit: Option<u32>,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryPage {
    pub items: Vec<EntryView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<String>,
}

fn parse_cursor(s: &str) -> Result<(u64, u64), ApiError> {
    let mut it = s.splitn(2, '.');
    let bad = || {
        ApiError::param(
            ErrorCode::InvalidRequest,
            "after",
            "not a cursor this API gave out",
        )
    };
    let a = it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let b = it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    Ok((a, b))
}

#[utoipa::path(get, path = "/api/v1/lists/{list}", tag = "lists",
    params(("list" = String, Path, description = "blocked, tracked, permitted, exception or barred_tac"), PageQuery),
    responses((status = 200, body = EntryPage), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("token" = [])))]
pub async fn get_list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    rid: ReqId,
    Path(list): Path<String>,
    q: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<EntryPage>, ApiError> {
    let actor = caller.require(Capability::ReadLists)?;
    let list = parse_list(&list)?;
    let Query(q) = q.map_err(|e| ApiError::new(ErrorCode::InvalidRequest, e.body_text()))?;
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let after = q.after.as_deref().map(parse_cursor).transpose()?;
    let entries = state.registry.store().entries(list, after, limit).await?;
    let next = if entries.len() == limit as usize {
        entries
            .last()
            .map(|e| format!("{}.{}", ceir_store::subject_key(e.subject).0, e.seq))
    } else {
        None
    };
    let vis = SubscriberVisibility::of(&state, actor).await?;
    let items: Vec<EntryView> = entries
        .into_iter()
        .map(|e| EntryView::new(e, &vis))
        .collect();
    let revealed = items.iter().filter(|e| reveals(&e.imsi)).count();
    if revealed > 0 {
        record_personal_read(
            &state,
            &rid.context(actor),
            ObjectRef::list(list),
            serde_json::json!({"route": "list", "fields": ["imsi"], "entries": revealed}),
        )
        .await?;
    }
    Ok(Json(EntryPage { items, next }))
}

/// A new entry. `imei` for blocked/tracked/permitted; `imei` and `imsi` for exception; `tac` for
/// barred_tac.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEntryBody {
    pub imei: Option<String>,
    pub imsi: Option<String>,
    pub tac: Option<String>,
    /// stolen, lost, counterfeit, duplicate, fraud, crime, unregistered, invalid_imei, investigation, registered, imported, type_approved, not_type_approved, paired or other.
    pub reason: String,
    /// An outside reference, e.g. a police report number.
    pub reference: Option<String>,
    /// ISO 3166-1 alpha-2 country of origin; defaults to this node's country.
    pub country: Option<String>,
    /// RFC 3339 date-time or yyyy-mm-dd after which the entry lapses.
    pub expires_at: Option<String>,
    pub note: Option<String>,
}

/// One entry, or many under `entries`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AddBody {
    Many { entries: Vec<NewEntryBody> },
    One(NewEntryBody),
}

/// What a change did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplyView {
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
    pub unchanged: u64,
    /// The change feed's position after the change.
    pub seq: u64,
}

impl From<ApplyReport> for ApplyView {
    fn from(r: ApplyReport) -> Self {
        ApplyView {
            added: r.added,
            updated: r.updated,
            removed: r.removed,
            unchanged: r.unchanged,
            seq: r.last_seq,
        }
    }
}

/// Turns a wire entry into a checked domain entry; `at` names it in errors.
pub fn to_new_entry(
    list: ListKind,
    b: NewEntryBody,
    default_country: Country,
    now: Timestamp,
    at: &str,
) -> Result<NewEntry, ApiError> {
    let f = |name: &str| format!("{at}{name}");
    let imei = b
        .imei
        .as_deref()
        .map(|s| Imei::parse_typed(s).map_err(|e| id_err(&f("imei"), e)))
        .transpose()?;
    let imsi = b
        .imsi
        .as_deref()
        .map(|s| Imsi::parse(s).map_err(|e| id_err(&f("imsi"), e)))
        .transpose()?;
    let tac = b
        .tac
        .as_deref()
        .map(|s| Tac::parse(s).map_err(|e| id_err(&f("tac"), e)))
        .transpose()?;
    let subject = match (list, imei, imsi, tac) {
        (ListKind::Exception, Some(i), Some(m), None) => Subject::Pair(i, m),
        (ListKind::BarredTac, None, None, Some(t)) => Subject::Tac(t),
        (ListKind::Blocked | ListKind::Tracked | ListKind::Permitted, Some(i), None, None) => {
            Subject::Imei(i)
        }
        (ListKind::Exception, ..) => {
            return Err(ApiError::param(
                ErrorCode::InvalidRequest,
                &f("imsi"),
                "an exception needs imei and imsi, and no tac",
            ))
        }
        (ListKind::BarredTac, ..) => {
            return Err(ApiError::param(
                ErrorCode::InvalidRequest,
                &f("tac"),
                "the barred_tac list takes tac only",
            ))
        }
        _ => {
            return Err(ApiError::param(
                ErrorCode::InvalidRequest,
                &f("imei"),
                format!("the {list} list takes imei only"),
            ))
        }
    };
    let reason = Reason::parse(&b.reason).map_err(|e| id_err(&f("reason"), e))?;
    let country = b
        .country
        .as_deref()
        .map(Country::parse)
        .transpose()
        .map_err(|e| id_err(&f("country"), e))?
        .unwrap_or(default_country);
    let expires_at = b
        .expires_at
        .as_deref()
        .map(|s| parse_time(&f("expires_at"), s))
        .transpose()?;
    NewEntry::new(
        list,
        subject,
        EntryMeta {
            reason,
            reference: b.reference,
            country,
            expires_at,
            note: b.note,
        },
        now,
    )
    .map_err(|e| ApiError::param(e.code(), &f("entry"), e.to_string()))
}

#[utoipa::path(post, path = "/api/v1/lists/{list}/entries", tag = "lists",
    params(("list" = String, Path, description = "blocked, tracked, permitted, exception or barred_tac")),
    request_body = AddBody,
    responses((status = 200, body = ApplyView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("token" = [])))]
pub async fn add_entries(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    rid: ReqId,
    Path(list): Path<String>,
    ApiJson(body): ApiJson<AddBody>,
) -> Result<Json<ApplyView>, ApiError> {
    let list = parse_list(&list)?;
    let actor = caller.require(Capability::to_change(list))?;
    let now = state.registry.clock().now();
    let bodies = match body {
        AddBody::One(b) => vec![b],
        AddBody::Many { entries } => entries,
    };
    if bodies.is_empty() || bodies.len() > MAX_BATCH {
        return Err(ApiError::param(
            ErrorCode::InvalidRequest,
            "entries",
            format!("give 1 to {MAX_BATCH} entries"),
        ));
    }
    let many = bodies.len() > 1;
    let mut changes = Vec::with_capacity(bodies.len());
    for (n, b) in bodies.into_iter().enumerate() {
        let at = if many {
            format!("entries[{n}].")
        } else {
            String::new()
        };
        changes.push(ListChange::Add(to_new_entry(
            list,
            b,
            state.country,
            now,
            &at,
        )?));
    }
    Ok(Json(
        state
            .registry
            .apply(&changes, &rid.context(actor))
            .await?
            .into(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RemoveQuery {
    /// For exceptions: the paired IMSI.
    pub imsi: Option<String>,
    /// Whose entry to lift (a regulator may lift any); default: your organisation's, or all for a regulator.
    pub owner: Option<String>,
    pub note: Option<String>,
}

#[utoipa::path(delete, path = "/api/v1/lists/{list}/entries/{id}", tag = "lists",
    params(("list" = String, Path, description = "the list"), ("id" = String, Path, description = "IMEI (15 digits) or, for barred_tac, the TAC"), RemoveQuery),
    responses((status = 200, body = ApplyView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("token" = [])))]
pub async fn remove_entry(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    rid: ReqId,
    Path((list, id)): Path<(String, String)>,
    q: Result<Query<RemoveQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ApplyView>, ApiError> {
    let list = parse_list(&list)?;
    let actor = caller.require(Capability::to_change(list))?;
    let Query(q) = q.map_err(|e| ApiError::new(ErrorCode::InvalidRequest, e.body_text()))?;
    let subject = match list {
        ListKind::BarredTac => Subject::Tac(Tac::parse(&id).map_err(|e| id_err("tac", e))?),
        ListKind::Exception => {
            let imei = Imei::parse_typed(&id).map_err(|e| id_err("imei", e))?;
            let imsi = q.imsi.as_deref().ok_or_else(|| {
                ApiError::param(
                    ErrorCode::InvalidRequest,
                    "imsi",
                    "lifting an exception needs the paired imsi",
                )
            })?;
            Subject::Pair(imei, Imsi::parse(imsi).map_err(|e| id_err("imsi", e))?)
        }
        _ => Subject::Imei(Imei::parse_typed(&id).map_err(|e| id_err("imei", e))?),
    };
    let change = ListChange::Remove {
        list,
        subject,
        owner: q.owner,
        note: q.note,
    };
    Ok(Json(
        state
            .registry
            .apply(&[change], &rid.context(actor))
            .await?
            .into(),
    ))
}

#[utoipa::path(get, path = "/api/v1/tacs/{tac}", tag = "catalog",
    params(("tac" = String, Path, description = "8-digit TAC")),
    responses((status = 200, body = ModelView), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("token" = [])))]
pub async fn get_tac(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(tac): Path<String>,
) -> Result<Json<ModelView>, ApiError> {
    caller.require(Capability::ReadCatalog)?;
    let tac = Tac::parse(&tac).map_err(|e| id_err("tac", e))?;
    match state.registry.store().tac(tac).await? {
        Some(m) => Ok(Json(m.into())),
        None => Err(ApiError::new(
            ErrorCode::NotFound,
            format!("TAC {tac} is not in the catalog"),
        )),
    }
}

/// The node at a glance.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsView {
    /// Entries per list.
    pub lists: BTreeMap<String, u64>,
    pub catalog_models: u64,
    /// The change feed's position.
    pub feed_seq: u64,
    /// The position the in-memory index has applied.
    pub index_seq: u64,
    pub index_imeis: u64,
    /// What unlisted devices get: permit, track, block or unknown.
    pub unlisted_policy: String,
    pub store: String,
}

#[utoipa::path(get, path = "/api/v1/stats", tag = "node",
    responses((status = 200, body = StatsView), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("token" = [])))]
pub async fn get_stats(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<StatsView>, ApiError> {
    caller.require(Capability::ReadLists)?;
    let store = state.registry.store();
    Ok(Json(StatsView {
        lists: store
            .list_counts()
            .await?
            .into_iter()
            .map(|(l, n)| (l.as_str().to_owned(), n))
            .collect(),
        catalog_models: store.catalog_count().await?,
        feed_seq: store.feed_position().await?,
        index_seq: state.registry.index().applied_seq(),
        index_imeis: state.registry.index().len() as u64,
        unlisted_policy: state.registry.policy().as_str().into(),
        store: store.backend().into(),
    }))
}

/// A mobile network.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorView {
    /// MCC-MNC.
    pub plmn: String,
    pub name: String,
    pub country: String,
    /// The operator organisation on this node that runs the network (none for the partner
    /// country's networks).
    pub org: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/operators", tag = "node",
    responses((status = 200, body = [OperatorView]), (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("token" = [])))]
pub async fn get_operators(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<OperatorView>>, ApiError> {
    caller.require(Capability::ReadLists)?;
    let ops = state.registry.store().operators().await?;
    Ok(Json(
        ops.into_iter()
            .map(|o| OperatorView {
                plmn: o.plmn,
                name: o.name,
                country: o.country.to_string(),
                org: o.org,
            })
            .collect(),
    ))
}
