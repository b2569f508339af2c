//! AWS Secrets Manager through the official SDK (`aws-config` + `aws-sdk-secretsmanager`).
//!
//! Using the SDK means the standard credential chain (environment, profile, SSO, process, IMDS),
//! region resolution and `AWS_ENDPOINT_URL` work exactly as AWS users expect, and that retries with
//! jittered exponential backoff on throttling and 5xx come from the SDK's standard retry mode. The HTTP
//! client is the SDK's own hyper/rustls stack with the `ring` provider (shared with the Vault client),
//! so no second TLS library is built.
//!
//! Layouts: `per-key` (secret `prefix + NAME`) and `bundle` (one secret holding a JSON object of every
//! name). Updates use `PutSecretValue` so AWSCURRENT/AWSPREVIOUS keep working; new secrets use
//! `CreateSecret` with the tag `managed-by = keep`, which `--prune` requires before it deletes anything.
//! Deletion keeps the recovery window unless `--force-delete-without-recovery` is given.
//!
//! Secrets Manager has no check-and-set on writes. keep compares the version seen in the plan with
//! the current one before writing a bundle, and a per-key create fails if the name appeared
//! meanwhile; both become conflicts. A per-key update between the plan and the write is not detected.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType, Tag};
use aws_sdk_secretsmanager::Client;
use serde_json::{Map, Value};
use tokio::runtime::Runtime;
use tokio::sync::Semaphore;

use super::bundle::{Bundle, BundleBacked, TwoLayouts};
use super::target::Location;
use super::{
    Applied, Changes, Progress, Provider, RemoteMeta, RemoteValue, Target, MARKER_KEY, MARKER_VALUE,
};
use crate::error::{Error, Result};
use crate::scope::Name;
use crate::value::SecretValue;

/// A connected Secrets Manager client for one target.
pub struct AwsProvider {
    rt: Runtime,
    client: Client,
    target: String,
    location: Location,
    concurrency: usize,
    managed: BTreeMap<Name, bool>,
    bundle: Option<Bundle>,
}

fn fail(target: &str, op: &str, secret: &str, e: impl std::error::Error) -> Error {
    Error::Remote(format!(
        "sync target {target}: {op} {secret} on AWS Secrets Manager failed: {} \
         (check AWS credentials, AWS_REGION and AWS_ENDPOINT_URL)",
        DisplayErrorContext(e)
    ))
}

fn code<E: ProvideErrorMetadata>(e: &aws_sdk_secretsmanager::error::SdkError<E>) -> Option<String> {
    e.as_service_error()
        .and_then(|s| s.code())
        .map(str::to_string)
}

fn marker() -> Tag {
    Tag::builder().key(MARKER_KEY).value(MARKER_VALUE).build()
}

fn is_marked(tags: &[Tag]) -> bool {
    tags.iter()
        .any(|t| t.key() == Some(MARKER_KEY) && t.value() == Some(MARKER_VALUE))
}

fn value_of(string: Option<&str>, binary: Option<&Blob>) -> Option<SecretValue> {
    match (string, binary) {
        (Some(s), _) => Some(SecretValue::from(s)),
        (None, Some(b)) => Some(SecretValue::new(b.as_ref().to_vec())),
        _ => None,
    }
}

/// What one conditional write did.
enum Put {
    Done(Option<String>),
    Conflict,
}

/// Create (expected absent) or update (expected present) one secret; tag it if it is not marked.
async fn put_one(
    client: &Client,
    target: &str,
    id: &str,
    value: &SecretValue,
    expected: Option<&str>,
    marked: bool,
) -> Result<Put> {
    let (string, binary) = match std::str::from_utf8(value.expose()) {
        Ok(s) => (Some(s.to_string()), None),
        Err(_) => (None, Some(Blob::new(value.expose().to_vec()))),
    };
    if expected.is_none() {
        let r = client
            .create_secret()
            .name(id)
            .set_secret_string(string.clone())
            .set_secret_binary(binary.clone())
            .tags(marker())
            .description("managed by keep")
            .send()
            .await;
        match r {
            Ok(out) => return Ok(Put::Done(out.version_id().map(str::to_string))),
            Err(e)
                if matches!(
                    code(&e).as_deref(),
                    Some("ResourceExistsException" | "InvalidRequestException")
                ) =>
            {
                // The name exists: either someone created it since the plan (a conflict), or it was
                // pruned earlier and is still in its recovery window (AWS says InvalidRequest, moto
                // ResourceExists): bring that back, then update it.
                let pending = client
                    .describe_secret()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| fail(target, "describe", id, e))?
                    .deleted_date()
                    .is_some();
                if !pending {
                    return match code(&e).as_deref() {
                        Some("ResourceExistsException") => Ok(Put::Conflict),
                        _ => Err(fail(target, "create", id, e)),
                    };
                }
                client
                    .restore_secret()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| fail(target, "restore", id, e))?;
            }
            Err(e) => return Err(fail(target, "create", id, e)),
        }
    }
    let r = client
        .put_secret_value()
        .secret_id(id)
        .set_secret_string(string)
        .set_secret_binary(binary)
        .send()
        .await;
    let out = match r {
        Ok(out) => out,
        Err(e) if code(&e).as_deref() == Some("ResourceNotFoundException") => {
            return Ok(Put::Conflict)
        }
        Err(e) => return Err(fail(target, "update", id, e)),
    };
    if !marked {
        client
            .tag_resource()
            .secret_id(id)
            .tags(marker())
            .send()
            .await
            .map_err(|e| fail(target, "tag", id, e))?;
    }
    Ok(Put::Done(out.version_id().map(str::to_string)))
}

impl AwsProvider {
    /// Build a client from the standard AWS configuration sources.
    pub fn connect(target: &Target) -> Result<AwsProvider> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Io {
                context: "cannot start the async runtime for AWS".into(),
                source: e,
            })?;
        use aws_smithy_http_client::tls;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(target.timeout)
            .operation_attempt_timeout(target.timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .retry_config(RetryConfig::standard().with_max_attempts(super::retry::MAX_ATTEMPTS))
            .timeout_config(timeouts);
        if let Some(region) = &target.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let conf = rt.block_on(loader.load());
        if conf.region().is_none() {
            return Err(Error::Usage(format!(
                "sync target {}: no AWS region; set `region` in [sync.{}], AWS_REGION, or a profile region",
                target.name, target.name
            )));
        }
        Ok(AwsProvider {
            rt,
            client: Client::new(&conf),
            target: target.name.clone(),
            location: target.location.clone(),
            concurrency: target.concurrency,
            managed: BTreeMap::new(),
            bundle: None,
        })
    }

    fn load_bundle(&mut self, id: &str) -> Result<Bundle> {
        let (client, target) = (&self.client, self.target.as_str());
        let b = self.rt.block_on(async {
            let mut b = Bundle::default();
            match client.describe_secret().secret_id(id).send().await {
                Ok(d) if d.deleted_date().is_none() => {
                    b.exists = true;
                    b.managed = is_marked(d.tags());
                }
                Ok(_) => return Ok(b),
                Err(e) if code(&e).as_deref() == Some("ResourceNotFoundException") => return Ok(b),
                Err(e) => return Err(fail(target, "describe", id, e)),
            }
            match client.get_secret_value().secret_id(id).send().await {
                Ok(out) => {
                    b.version = out.version_id().map(str::to_string);
                    let text = out.secret_string().unwrap_or("{}");
                    b.fields = serde_json::from_str::<Map<String, Value>>(text).map_err(|_| {
                        Error::Usage(format!(
                            "sync target {target}: secret {id} does not hold a JSON object, so it is not a bundle; \
                             use layout = \"per-key\" or another path"
                        ))
                    })?;
                    Ok(b)
                }
                Err(e) if code(&e).as_deref() == Some("ResourceNotFoundException") => Ok(b),
                Err(e) => Err(fail(target, "read", id, e)),
            }
        })?;
        self.bundle = Some(b.clone());
        Ok(b)
    }

    /// Read values 20 at a time. A denial of the batch call itself comes back as `Error::Usage` so
    /// the caller can fall back to single reads.
    fn read_batched(
        &self,
        prefix: &str,
        names: &[Name],
        progress: &Progress,
    ) -> Result<BTreeMap<Name, RemoteValue>> {
        let chunks: Vec<Vec<Name>> = names.chunks(20).map(<[Name]>::to_vec).collect();
        let (target, prefix, progress) =
            (self.target.clone(), prefix.to_string(), progress.clone());
        let got = self.each(chunks, move |client, chunk| {
            let (target, prefix, progress) = (target.clone(), prefix.clone(), progress.clone());
            async move {
                let ids: Vec<String> = chunk.iter().map(|n| format!("{prefix}{n}")).collect();
                let what = format!("{} secrets under {prefix:?}", ids.len());
                let out = match client
                    .batch_get_secret_value()
                    .set_secret_id_list(Some(ids))
                    .send()
                    .await
                {
                    Ok(out) => out,
                    Err(e) if e.as_service_error().is_some() => {
                        return Err(Error::Usage(format!(
                            "batch read refused: {}",
                            DisplayErrorContext(e)
                        )))
                    }
                    Err(e) => return Err(fail(&target, "read", &what, e)),
                };
                if let Some(err) = out
                    .errors()
                    .iter()
                    .find(|e| e.error_code() != Some("ResourceNotFoundException"))
                {
                    return Err(Error::Remote(format!(
                        "sync target {target}: read {} on AWS Secrets Manager failed: {}",
                        err.secret_id().unwrap_or("?"),
                        err.error_code().unwrap_or("unknown error")
                    )));
                }
                let mut found = Vec::new();
                for v in out.secret_values() {
                    let name = v
                        .name()
                        .and_then(|n| n.strip_prefix(prefix.as_str()))
                        .and_then(|n| Name::new(n).ok());
                    if let (Some(name), Some(value)) =
                        (name, value_of(v.secret_string(), v.secret_binary()))
                    {
                        found.push((
                            name,
                            RemoteValue {
                                value,
                                version: v.version_id().map(str::to_string),
                            },
                        ));
                    }
                }
                for _ in &chunk {
                    progress.inc();
                }
                Ok(found)
            }
        })?;
        Ok(got.into_iter().flatten().collect())
    }

    fn read_one_by_one(
        &self,
        prefix: &str,
        names: &[Name],
        progress: &Progress,
    ) -> Result<BTreeMap<Name, RemoteValue>> {
        let target = self.target.clone();
        let items: Vec<(Name, String)> = names
            .iter()
            .map(|n| (n.clone(), format!("{prefix}{n}")))
            .collect();
        let progress = progress.clone();
        let got = self.each(items, move |client, (name, id)| {
            let (target, progress) = (target.clone(), progress.clone());
            async move {
                let r = match client.get_secret_value().secret_id(&id).send().await {
                    Ok(out) => value_of(out.secret_string(), out.secret_binary()).map(|value| {
                        RemoteValue {
                            value,
                            version: out.version_id().map(str::to_string),
                        }
                    }),
                    Err(e) if code(&e).as_deref() == Some("ResourceNotFoundException") => None,
                    Err(e) => return Err(fail(&target, "read", &id, e)),
                };
                progress.inc();
                Ok((name, r))
            }
        })?;
        Ok(got
            .into_iter()
            .filter_map(|(n, r)| r.map(|r| (n, r)))
            .collect())
    }

    /// Run one async job per item, at most `concurrency` at a time, results in input order.
    fn each<T, R, F, Fut>(&self, items: Vec<T>, job: F) -> Result<Vec<R>>
    where
        T: Send + 'static,
        R: Send + 'static,
        F: Fn(Client, T) -> Fut,
        Fut: std::future::Future<Output = Result<R>> + Send + 'static,
    {
        let gate = Arc::new(Semaphore::new(self.concurrency));
        self.rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for (i, item) in items.into_iter().enumerate() {
                let gate = gate.clone();
                let fut = job(self.client.clone(), item);
                set.spawn(async move {
                    let _permit = gate.acquire_owned().await;
                    (i, fut.await)
                });
            }
            let mut results: Vec<Option<R>> = Vec::new();
            let mut first_err = None;
            while let Some(joined) = set.join_next().await {
                let (i, r) =
                    joined.map_err(|e| Error::Remote(format!("a sync task failed: {e}")))?;
                match r {
                    Ok(v) => {
                        if results.len() <= i {
                            results.resize_with(i + 1, || None);
                        }
                        results[i] = Some(v);
                    }
                    Err(e) => {
                        if first_err.is_none() {
                            first_err = Some(e);
                            set.abort_all();
                        }
                    }
                }
            }
            match first_err {
                Some(e) => Err(e),
                None => Ok(results.into_iter().flatten().collect()),
            }
        })
    }
}

impl BundleBacked for AwsProvider {
    fn cached_bundle(&self) -> Option<&Bundle> {
        self.bundle.as_ref()
    }

    fn fetch_bundle(&mut self, path: &str) -> Result<Bundle> {
        self.load_bundle(path)
    }
}

impl TwoLayouts for AwsProvider {
    fn location(&self) -> &Location {
        &self.location
    }

    fn list_per_key(&mut self, prefix: &str) -> Result<BTreeMap<Name, RemoteMeta>> {
        let mut req = self.client.list_secrets().max_results(100);
        if !prefix.is_empty() {
            req = req.filters(
                Filter::builder()
                    .key(FilterNameStringType::Name)
                    .values(prefix)
                    .build(),
            );
        }
        let target = self.target.clone();
        let mut out = BTreeMap::new();
        self.rt.block_on(async {
            let mut pages = req.into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page
                    .map_err(|e| fail(&target, "list", &format!("secrets under {prefix:?}"), e))?;
                for s in page.secret_list() {
                    let Some(name) = s
                        .name()
                        .and_then(|n| n.strip_prefix(prefix))
                        .and_then(|n| Name::new(n).ok())
                    else {
                        continue;
                    };
                    if s.deleted_date().is_some() {
                        continue;
                    }
                    let version = s.secret_versions_to_stages().and_then(|m| {
                        m.iter()
                            .find(|(_, stages)| stages.iter().any(|st| st == "AWSCURRENT"))
                            .map(|(v, _)| v.clone())
                    });
                    out.insert(
                        name,
                        RemoteMeta {
                            version,
                            managed: is_marked(s.tags()),
                        },
                    );
                }
            }
            Ok::<_, Error>(())
        })?;
        self.managed = out.iter().map(|(n, m)| (n.clone(), m.managed)).collect();
        Ok(out)
    }

    fn read_per_key(
        &mut self,
        prefix: &str,
        names: &[Name],
        progress: &Progress,
    ) -> Result<BTreeMap<Name, RemoteValue>> {
        // BatchGetSecretValue (20 per call) first; principals allowed only GetSecretValue get a
        // denial there, and then the names are read one by one.
        match self.read_batched(prefix, names, progress) {
            Ok(got) => Ok(got),
            Err(Error::Usage(_)) => self.read_one_by_one(prefix, names, progress),
            Err(e) => Err(e),
        }
    }
}

impl Provider for AwsProvider {
    fn list(&mut self) -> Result<BTreeMap<Name, RemoteMeta>> {
        self.list_either()
    }

    fn read(&mut self, names: &[Name], progress: &Progress) -> Result<BTreeMap<Name, RemoteValue>> {
        self.read_either(names, progress)
    }

    fn apply(&mut self, changes: &Changes, progress: &Progress) -> Result<BTreeMap<Name, Applied>> {
        let mut out = BTreeMap::new();
        let target = self.target.clone();
        match self.location.clone() {
            Location::Bundle { path } => {
                let seen = self.bundle_at(&path)?;
                // Secrets Manager has no check-and-set: re-read and compare versions just before writing.
                let now = self.load_bundle(&path)?;
                let result = if now.version != seen.version || now.exists != seen.exists {
                    Put::Conflict
                } else {
                    let json = SecretValue::from(Value::Object(now.merged(changes)?).to_string());
                    let expected = now.exists.then_some("present");
                    self.rt.block_on(put_one(
                        &self.client,
                        &target,
                        &path,
                        &json,
                        expected,
                        now.managed,
                    ))?
                };
                let written = match result {
                    Put::Done(v) => Some(v),
                    Put::Conflict => None,
                };
                out.extend(Bundle::outcome(changes, written, progress));
                self.bundle = None;
            }
            Location::PerKey { prefix } => {
                let items: Vec<(Name, String, SecretValue, Option<String>, bool)> = changes
                    .upserts
                    .iter()
                    .map(|u| {
                        let marked = self.managed.get(&u.name).copied().unwrap_or(false);
                        (
                            u.name.clone(),
                            format!("{prefix}{}", u.name),
                            u.value.clone(),
                            u.expected.clone(),
                            marked,
                        )
                    })
                    .collect();
                let (t, p) = (target.clone(), progress.clone());
                let written =
                    self.each(items, move |client, (name, id, value, expected, marked)| {
                        let (t, p) = (t.clone(), p.clone());
                        async move {
                            // A present name with no version id still exists: update it.
                            let expected = expected.or_else(|| marked.then(String::new));
                            let r = put_one(&client, &t, &id, &value, expected.as_deref(), marked)
                                .await?;
                            p.inc();
                            Ok((name, r))
                        }
                    })?;
                for (name, r) in written {
                    out.insert(
                        name,
                        match r {
                            Put::Done(v) => Applied::Written(v),
                            Put::Conflict => Applied::Conflict,
                        },
                    );
                }
                let force = changes.force_delete;
                let items: Vec<(Name, String)> = changes
                    .deletes
                    .iter()
                    .map(|n| (n.clone(), format!("{prefix}{n}")))
                    .collect();
                let (t, p) = (target.clone(), progress.clone());
                let deleted = self.each(items, move |client, (name, id)| {
                    let (t, p) = (t.clone(), p.clone());
                    async move {
                        let mut req = client.delete_secret().secret_id(&id);
                        req = if force {
                            req.force_delete_without_recovery(true)
                        } else {
                            req.recovery_window_in_days(30)
                        };
                        match req.send().await {
                            Ok(_) => {}
                            Err(e) if code(&e).as_deref() == Some("ResourceNotFoundException") => {}
                            Err(e) => return Err(fail(&t, "delete", &id, e)),
                        }
                        p.inc();
                        Ok(name)
                    }
                })?;
                out.extend(deleted.into_iter().map(|n| (n, Applied::Deleted)));
            }
        }
        Ok(out)
    }
}
