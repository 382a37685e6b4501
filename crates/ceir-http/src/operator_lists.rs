//! Downloading the generated operator lists (`/api/v1/operator-lists`): the runs, a run's signed
//! manifest and signature, and its files. An operator gets only its own networks' files, among
//! them its own signed manifest (`files/{operator}/manifest.json` and `manifest.json.sig`); the
//! run's manifest, which names every operator's files and row counts, is the regulator's.
//! Files are streamed from `DIR/lists` as written, byte for byte, so that their SHA-256 matches
//! the manifest, under their own names: saved side by side, they are what
//! `ceir lists verify DIR --operator <id>` checks.

use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ceir_domain::authz::{Capability, OrgKind};
use ceir_domain::ErrorCode;
use ceir_lists::Manifest;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use utoipa::ToSchema;

/// A published run of operator lists.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListRunView {
    pub run: u64,
    /// The list date, yyyy-mm-dd.
    pub date: String,
    /// The run the delta files are against.
    pub previous_run: Option<u64>,
    pub classification_run: Option<u64>,
    pub files: usize,
    pub current: bool,
}

fn root(state: &AppState) -> Result<&std::path::Path, ApiError> {
    state
        .lists_root
        .get()
        .map(PathBuf::as_path)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "this node publishes no operator lists"))
}

/// `current` or a run number, as published.
fn run_of(state: &AppState, run: &str) -> Result<(u64, PathBuf), ApiError> {
    let root = root(state)?;
    let current = ceir_lists::current_run(root)
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    let n = if run == "current" {
        current
    } else {
        let n: u64 = run.parse().map_err(|_| {
            ApiError::param(
                ErrorCode::InvalidRequest,
                "run",
                "a run number or \"current\"",
            )
        })?;
        // Runs after the current one are unpublished leftovers of an interrupted generation.
        current.filter(|c| n <= *c).map(|_| n)
    };
    let n =
        n.ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no published run {run}")))?;
    let dir = ceir_lists::run_dir(root, n);
    if !dir.join(ceir_lists::MANIFEST).is_file() {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("run {n} is no longer kept"),
        ));
    }
    Ok((n, dir))
}

fn file_response(bytes: Vec<u8>, content_type: &'static str) -> Response {
    let mut res = bytes.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

#[utoipa::path(get, path = "/api/v1/operator-lists/runs", tag = "operator lists",
    responses((status = 200, body = [ListRunView]), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("token" = [])))]
pub async fn list_runs(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<ListRunView>>, ApiError> {
    caller.require(Capability::DownloadOperatorLists)?;
    let Some(root) = state.lists_root.get() else {
        return Ok(Json(Vec::new()));
    };
    let runs =
        ceir_lists::runs(root).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    Ok(Json(
        runs.into_iter()
            .map(|r| ListRunView {
                run: r.run,
                date: r.date,
                previous_run: r.previous_run,
                classification_run: r.classification_run,
                files: r.files,
                current: r.current,
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/api/v1/operator-lists/runs/{run}/manifest", tag = "operator lists",
    params(("run" = String, Path, description = "A run number, or `current`")),
    responses((status = 200, description = "The run's manifest exactly as signed: run, date, previous run, country, key id, settings, and every file's rows, size and SHA-256, for every operator", content_type = "application/json"), (status = 400, body = Problem, description = "The run is not a run number or \"current\"", content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, description = "Operators download their own manifest: `files/{operator}/manifest.json`", content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("token" = [])))]
pub async fn get_manifest(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(run): Path<String>,
) -> Result<Response, ApiError> {
    run_file(
        &state,
        &caller,
        &run,
        ceir_lists::MANIFEST,
        "application/json",
    )
    .await
}

#[utoipa::path(get, path = "/api/v1/operator-lists/runs/{run}/signature", tag = "operator lists",
    params(("run" = String, Path, description = "A run number, or `current`")),
    responses((status = 200, description = "The run's manifest's detached Ed25519 signature, hex; verify it with the node's public key (`ceir node key`)", content_type = "text/plain"), (status = 400, body = Problem, description = "The run is not a run number or \"current\"", content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, description = "Operators download their own manifest's signature: `files/{operator}/manifest.json.sig`", content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("token" = [])))]
pub async fn get_signature(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(run): Path<String>,
) -> Result<Response, ApiError> {
    run_file(
        &state,
        &caller,
        &run,
        ceir_lists::SIGNATURE,
        "text/plain; charset=utf-8",
    )
    .await
}

/// One of a run's own files (manifest or signature): they name every operator's files and row
/// counts, so not for operators, who have their own.
async fn run_file(
    state: &AppState,
    caller: &Caller,
    run: &str,
    name: &str,
    content_type: &'static str,
) -> Result<Response, ApiError> {
    let actor = caller.require(Capability::DownloadOperatorLists)?;
    if actor.org_kind == OrgKind::Operator {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "the run's {name} names every operator's files; download your own, signed for you \
                 alone: /api/v1/operator-lists/runs/{run}/files/<your operator id>/{name}"
            ),
        ));
    }
    let (_, dir) = run_of(state, run)?;
    let bytes = tokio::fs::read(dir.join(name))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    Ok(file_response(bytes, content_type))
}

/// The networks (`"40001"`) of the caller's organisation, for an operator.
async fn own_networks(state: &AppState, org: &str) -> Result<Vec<String>, ApiError> {
    Ok(state
        .registry
        .store()
        .operators()
        .await?
        .into_iter()
        .filter(|o| o.org.as_deref() == Some(org))
        .map(|o| o.plmn.replace('-', ""))
        .collect())
}

#[utoipa::path(get, path = "/api/v1/operator-lists/runs/{run}/files/{operator}/{file}", tag = "operator lists",
    params(("run" = String, Path, description = "A run number, or `current`"), ("operator" = String, Path, description = "The operator's id, as in the manifest"), ("file" = String, Path, description = "A file of that operator, e.g. `blocklist.csv` or `notifications_delta_new.csv`, or its own signed manifest: `manifest.json` and `manifest.json.sig`. Save each under this name in one directory, then check them with `ceir lists verify DIR --operator <id> --key <node key>`")),
    responses((status = 200, description = "The file as written (CSV, or the operator's manifest and its signature), named `{file}` for download; its SHA-256 is in the operator's manifest", content_type = "text/csv"), (status = 400, body = Problem, description = "The run is not a run number or \"current\"", content_type = "application/problem+json"), (status = 401, body = Problem, content_type = "application/problem+json"), (status = 403, body = Problem, description = "An operator asked for another operator's files", content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("token" = [])))]
pub async fn get_file(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((run, operator, file)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let actor = caller.require(Capability::DownloadOperatorLists)?.clone();
    let (n, dir) = run_of(&state, &run)?;
    let bytes = tokio::fs::read(dir.join(ceir_lists::MANIFEST))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("run {n}'s manifest: {e}")))?;
    let Some(op) = manifest.operators.iter().find(|o| o.id == operator) else {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("run {n} has no operator {operator:?}"),
        ));
    };
    if actor.org_kind == OrgKind::Operator {
        let own = own_networks(&state, &actor.org).await?;
        if !op.mcc_mnc.iter().any(|n| own.contains(n)) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "{}'s lists go to {} only; {} runs none of its networks ({})",
                    op.id,
                    op.name,
                    actor.org,
                    op.mcc_mnc.join(", ")
                ),
            ));
        }
    }
    // Only what the manifest names: no path of the caller's choosing reaches the file system.
    let rel = format!("{operator}/{file}");
    if manifest.file(&rel).is_none() {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            format!("run {n} has no file {rel}"),
        ));
    }
    let f = tokio::fs::File::open(dir.join(&rel))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("{rel}: {e}")))?;
    // Streamed in 256 KiB chunks: a ten-million-row blocklist never sits in memory.
    let stream = futures::stream::unfold(Some(f), |f| async move {
        let mut f = f?;
        let mut buf = vec![0u8; 256 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(k) => {
                buf.truncate(k);
                Some((Ok::<_, std::io::Error>(buf), Some(f)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    let mut res = Body::from_stream(stream).into_response();
    let h = res.headers_mut();
    let content_type = if file.ends_with(".csv") {
        "text/csv; charset=utf-8"
    } else if file == ceir_lists::MANIFEST {
        "application/json"
    } else if file == ceir_lists::SIGNATURE {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The name the operator's manifest gives it: files saved side by side verify as they are.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// The operator-list routes, merged into the node's router.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/operator-lists/runs", get(list_runs))
        .route(
            "/api/v1/operator-lists/runs/{run}/manifest",
            get(get_manifest),
        )
        .route(
            "/api/v1/operator-lists/runs/{run}/signature",
            get(get_signature),
        )
        .route(
            "/api/v1/operator-lists/runs/{run}/files/{operator}/{file}",
            get(get_file),
        )
}
