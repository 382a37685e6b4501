//! `GET /api/v1/devices/{imei}/explain`: the same explanation as `ceir explain`, for the
//! regulator, police and operators; subscriber identifiers only with `read_subscriber_data`
//! (operators: their own subscribers).

use crate::api::SubscriberVisibility;
use crate::audit::{record_personal_read, ReqId};
use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use ceir_classify::{Classified, Explanation, ObservationBatch, StateStore};
use ceir_domain::audit::ObjectRef;
use ceir_domain::authz::Capability;
use ceir_domain::classify::{Conditions, ListFlags, Memberships, ModelCatalog};
use ceir_domain::lists::Subject;
use ceir_domain::observe::{Day, ImeiNorm};
use ceir_domain::{ErrorCode, Imei, Imsi};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Reads one device's observations over `[start, end]` (the node wires the observation store).
pub type ObservationLoader =
    Arc<dyn Fn(&ImeiNorm, Day, Day) -> Result<ObservationBatch, String> + Send + Sync>;

/// Where explanations come from: the classification state, the conditions in force, and the
/// observations.
pub struct ClassificationSource {
    /// `DIR/classification`.
    pub root: PathBuf,
    pub conditions: Conditions,
    pub observations: Option<ObservationLoader>,
    /// The last state read, reused while `CURRENT` names the same run.
    cache: Mutex<Option<Arc<Classified>>>,
    /// The catalog as classification sees it (a model's generations OR-ed over its TACs), read
    /// once per run: an explanation agrees with the run it explains.
    catalog: Mutex<Option<(Option<u64>, Arc<ModelCatalog>)>>,
}

impl std::fmt::Debug for ClassificationSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClassificationSource")
            .field("root", &self.root)
            .field("conditions", &self.conditions.conditions.len())
            .field("observations", &self.observations.is_some())
            .finish()
    }
}

impl ClassificationSource {
    pub fn new(
        root: PathBuf,
        conditions: Conditions,
        observations: Option<ObservationLoader>,
    ) -> ClassificationSource {
        ClassificationSource {
            root,
            conditions,
            observations,
            cache: Mutex::new(None),
            catalog: Mutex::new(None),
        }
    }

    async fn catalog(
        &self,
        run: Option<u64>,
        store: &dyn ceir_store::Store,
    ) -> Result<Arc<ModelCatalog>, ApiError> {
        if let Ok(c) = self.catalog.lock() {
            if let Some((_, cat)) = c.as_ref().filter(|(r, _)| *r == run) {
                return Ok(cat.clone());
            }
        }
        let cat = Arc::new(ModelCatalog::from_models(&store.catalog_models().await?));
        if let Ok(mut c) = self.catalog.lock() {
            *c = Some((run, cat.clone()));
        }
        Ok(cat)
    }

    fn state(&self) -> Result<Option<Arc<Classified>>, ApiError> {
        let internal = |e: ceir_classify::ClassifyError| ApiError::new(e.code(), e.to_string());
        let store = StateStore::open(&self.root).map_err(internal)?;
        let Some(id) = store.current_id().map_err(internal)? else {
            return Ok(None);
        };
        if let Ok(cache) = self.cache.lock() {
            if let Some(c) = cache.as_ref().filter(|c| c.run.id == id) {
                return Ok(Some(c.clone()));
            }
        }
        let c = store.current().map_err(internal)?.map(Arc::new);
        if let Ok(mut cache) = self.cache.lock() {
            cache.clone_from(&c);
        }
        Ok(c)
    }
}

#[utoipa::path(get, path = "/api/v1/devices/{imei}/explain", tag = "devices",
    params(("imei" = String, Path, description = "15-digit IMEI; the check digit is verified")),
    responses(
        (status = 200, description = "Every condition: whether it matches and why, with the numbers; the recorded state (start, end, block date, amnesty); the lists the device is on. `subscribers` only with read_subscriber_data.", body = Object),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "This node has no classification", body = Problem, content_type = "application/problem+json")),
    security(("token" = [])))]
pub async fn get_explain(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    rid: ReqId,
    Path(imei): Path<String>,
) -> Result<Json<Explanation>, ApiError> {
    let actor = caller.require(Capability::ReadClassification)?;
    let imei =
        Imei::parse_typed(&imei).map_err(|e| ApiError::param(e.code(), "imei", e.to_string()))?;
    let Some(src) = state.classification.load_full() else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "this node does not classify devices",
        ));
    };
    let norm = ImeiNorm::Body(imei.body());
    let store = state.registry.store();
    let mut lists = Vec::new();
    let mut tacs = Vec::new();
    for e in store.entries_of(imei.body()).await? {
        if let (Subject::Imei(_), Some(f)) = (e.subject, ListFlags::of_entry(e.list, e.reason)) {
            lists.push((imei.body(), f));
        }
    }
    for e in store.entries_of(u64::from(imei.tac().get())).await? {
        if let Subject::Tac(t) = e.subject {
            tacs.push(t.get());
        }
    }
    let memberships = Memberships::from_lists(lists, tacs);
    let vis = SubscriberVisibility::of(&state, actor).await?;
    let show = actor.can(Capability::ReadSubscriberData);
    let today = Day::of(state.registry.clock().now());
    let src2 = src.clone();
    let classified = tokio::task::spawn_blocking(move || src2.state())
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))??;
    let catalog = src
        .catalog(classified.as_ref().map(|c| c.run.id), store.as_ref())
        .await?;
    let src2 = src.clone();
    let mut explanation = tokio::task::spawn_blocking(move || -> Result<Explanation, ApiError> {
        let date = classified.as_ref().map_or(today, |c| c.run.analysis_date);
        let days = src2.conditions.lookback_days().max(31);
        let batch = match &src2.observations {
            Some(load) => load(&norm, date.plus(1 - days as i32), date)
                .map_err(|e| ApiError::new(ErrorCode::StoreUnavailable, e))?,
            None => ObservationBatch::default(),
        };
        Ok(ceir_classify::explain(
            &norm,
            &src2.conditions,
            &batch.view(),
            &catalog,
            &memberships,
            classified.as_deref(),
            date,
            show,
        ))
    })
    .await
    .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))??;
    // An operator sees its own subscribers only; others' IMSIs masked to their network and
    // their MSISDNs withheld.
    let mut revealed = 0usize;
    if let Some(rows) = explanation.subscribers.as_mut() {
        for r in rows.iter_mut() {
            let full = r
                .imsi
                .as_deref()
                .and_then(|s| Imsi::parse(s).ok())
                .map(|i| {
                    let shown = vis.imsi(i);
                    (shown.contains('*'), shown)
                });
            match full {
                Some((false, shown)) => {
                    r.imsi = Some(shown);
                    revealed += 1;
                }
                Some((true, masked)) => {
                    r.imsi = Some(masked);
                    r.msisdn = None;
                }
                None => {
                    r.imsi = None;
                    r.msisdn = None;
                }
            }
        }
    }
    if revealed > 0 {
        record_personal_read(
            &state,
            &rid.context(actor),
            ObjectRef::imei(imei),
            serde_json::json!({"route": "explain", "fields": ["imsi", "msisdn"], "rows": revealed}),
        )
        .await?;
    }
    Ok(Json(explanation))
}
