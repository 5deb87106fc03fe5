//! What the memory provider holds: its objects, injected faults, call
//! counts and log, kept in memory or in a file shared by processes.

use super::*;

/// An injected failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Fails with [`ProviderError::transient`]: the engine retries.
    Transient,
    /// Fails with [`ProviderError::permanent`]: the engine gives up.
    Permanent,
    /// Fails with [`ProviderError::auth`]: the run stops starting operations.
    Auth,
    /// Fails with a transient error asking to wait this long (an HTTP 429
    /// with `Retry-After`).
    RateLimited(Duration),
}

impl Fault {
    pub(super) fn error(self, what: String) -> ProviderError {
        match self {
            Fault::Transient => {
                ProviderError::transient(format!("injected transient failure: {what}"))
            }
            Fault::Permanent => {
                ProviderError::permanent(format!("injected permanent failure: {what}"))
            }
            Fault::Auth => ProviderError::auth(format!(
                "injected 401 for {what}: the token is invalid; set a valid one"
            )),
            Fault::RateLimited(wait) => {
                ProviderError::transient(format!("injected 429 for {what}")).retry_after(wait)
            }
        }
    }
}

/// One object in the simulated world.
#[derive(Clone, Debug, PartialEq)]
pub struct MemoryObject {
    /// Its id, `mem-{n}`; never reused.
    pub id: String,
    /// The kind of the resource that created it.
    pub kind: String,
    /// The address of the resource that created it.
    pub address: Address,
    /// The ownership marker stamped on it ([`Ownership::marker`]).
    pub marker: String,
    /// The ownership tag stamped on it ([`Ownership::tag`]).
    pub tag: String,
    /// Its attributes: exactly those of the last create or update (secrets
    /// included, held in memory), plus any outside change.
    pub attrs: Attrs,
}

impl MemoryObject {
    pub(super) fn observed(&self) -> Observed {
        let mut outputs = Attrs::new();
        outputs.insert("id".into(), Value::Str(self.id.clone()));
        Observed {
            id: self.id.clone(),
            attrs: self.attrs.clone(),
            outputs,
        }
    }

    /// The resource name in the marker (`lab:home/test.thing.db` -> `db`).
    pub(super) fn marker_name(&self) -> Option<&str> {
        self.marker.rsplit_once('.').map(|(_, name)| name)
    }
}

/// How many calls of each kind the provider received.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallCounts {
    /// Bulk [`Provider::read`] calls (one per call, whatever the number of
    /// resources read).
    pub reads: u64,
    /// [`Provider::create`] calls, failed ones included.
    pub creates: u64,
    /// [`Provider::update`] calls, failed ones included.
    pub updates: u64,
    /// [`Provider::delete`] calls, failed ones included.
    pub deletes: u64,
    /// [`Provider::adopt`] calls.
    pub adopts: u64,
}

impl CallCounts {
    /// Creates, updates and deletes.
    pub fn mutating(&self) -> u64 {
        self.creates + self.updates + self.deletes
    }
}

/// One mutating call, with its place in time.
///
/// `start` and `end` come from one counter per simulated world, incremented
/// at every call start and end, so `b.start > a.end.unwrap()` means "b
/// started after a returned".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    /// Create, update or delete.
    pub op: OpKind,
    /// The resource.
    pub address: Address,
    /// The counter's value when the call started.
    pub start: u64,
    /// The counter's value when it returned; `None` while in flight, or if
    /// it never returned (a crash, a cancelled future).
    pub end: Option<u64>,
    /// The engine's attempt number ([`OpContext::attempt`]).
    pub attempt: u32,
}

#[derive(Default)]
pub(super) struct WorldState {
    pub(super) objects: IndexMap<String, MemoryObject>,
    pub(super) next_id: u64,
    pub(super) counts: CallCounts,
    pub(super) calls: Vec<CallRecord>,
    /// Mutating calls so far (fault positions are absolute numbers of it).
    pub(super) mutating: u64,
    pub(super) fail_at: BTreeMap<u64, Fault>,
    pub(super) fail_resource: HashMap<String, Fault>,
    pub(super) fail_reads: Option<Fault>,
    pub(super) crash_at: Vec<(u64, Arc<Notify>)>,
    pub(super) in_flight: HashMap<String, usize>,
    pub(super) max_in_flight: HashMap<String, usize>,
    pub(super) ops_in_flight: usize,
    pub(super) max_ops_in_flight: usize,
    pub(super) persist: Option<PathBuf>,
}

impl WorldState {
    pub(super) fn enter(&mut self, keys: &[String]) {
        for k in keys {
            let n = self.in_flight.entry(k.clone()).or_insert(0);
            *n += 1;
            let now = *n;
            let max = self.max_in_flight.entry(k.clone()).or_insert(0);
            *max = (*max).max(now);
        }
    }

    pub(super) fn leave(&mut self, keys: &[String]) {
        for k in keys {
            if let Some(n) = self.in_flight.get_mut(k) {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// Writes the world to the persistence file, if any.
    pub(super) fn persist(&self) -> io::Result<()> {
        let Some(path) = &self.persist else {
            return Ok(());
        };
        let mut seal = |_: &Secret| json!({ "$secret": SECRET_PLACEHOLDER });
        let objects: Vec<Json> = self
            .objects
            .values()
            .map(|o| {
                json!({
                    "id": o.id,
                    "address": o.address.to_string(),
                    "marker": o.marker,
                    "tag": o.tag,
                    "attrs": attrs_to_json(&o.attrs, &mut seal),
                })
            })
            .collect();
        let doc = json!({
            "format": WORLD_FORMAT,
            "next_id": self.next_id,
            "objects": objects,
        });
        let text = serde_json::to_string_pretty(&doc).map_err(io::Error::other)?;
        write_atomic(path, text.as_bytes())
    }

    /// Replaces the objects with those in `path`, if it exists.
    pub(super) fn load(&mut self, path: &Path) -> io::Result<()> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let bad = |what: String| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {what}", path.display()),
            )
        };
        let doc: Json = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if doc.get("format").and_then(Json::as_str) != Some(WORLD_FORMAT) {
            return Err(bad(format!("not a `{WORLD_FORMAT}` file")));
        }
        let mut objects = IndexMap::new();
        let mut max_id = 0u64;
        let list = doc
            .get("objects")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        for o in &list {
            let field = |name: &str| {
                o.get(name)
                    .and_then(Json::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| bad(format!("an object has no `{name}`")))
            };
            let id = field("id")?;
            let address_text = field("address")?;
            let address = Address::parse(&address_text)
                .ok_or_else(|| bad(format!("bad address `{address_text}`")))?;
            let attrs = attrs_from_json(o.get("attrs").unwrap_or(&Json::Null), &mut |_| {
                Ok(Secret::new(UNKNOWN_SECRET))
            })
            .map_err(|e| bad(format!("`{id}`: {e}")))?;
            if let Some(n) = id.strip_prefix("mem-").and_then(|n| n.parse::<u64>().ok()) {
                max_id = max_id.max(n);
            }
            objects.insert(
                id.clone(),
                MemoryObject {
                    id,
                    kind: address.kind().to_string(),
                    address,
                    marker: field("marker")?,
                    tag: field("tag")?,
                    attrs,
                },
            );
        }
        let next_id = doc.get("next_id").and_then(Json::as_u64).unwrap_or(0);
        self.objects = objects;
        self.next_id = next_id.max(max_id);
        Ok(())
    }
}

/// The format tag of a persisted world.
pub(super) const WORLD_FORMAT: &str = "lab-memory-world/1";

/// What a persisted world holds instead of a secret's plaintext.
pub(super) const SECRET_PLACEHOLDER: &str = "(held in memory only)";

/// The value a secret loaded from a persisted world holds until the engine
/// tells the provider what it set (see [`MemoryProvider::persist_to`]).
pub(super) const UNKNOWN_SECRET: &str = "\u{0}lab-memory:secret-not-persisted";

/// Reads back like a service that never returns secrets: a secret the
/// world no longer knows is reported as the value recorded in state.
pub(super) fn observed_with_prior(obj: &MemoryObject, prior: &Attrs) -> Observed {
    let mut obs = obj.observed();
    for (k, v) in obs.attrs.iter_mut() {
        if matches!(v, Value::Secret(s) if s.expose() == UNKNOWN_SECRET) {
            if let Some(p) = prior.get(k) {
                *v = p.clone();
            }
        }
    }
    obs
}

/// Writes `bytes` to `path` atomically (its directory made if missing).
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    crate::files::write_private_atomic(path, bytes, true)
}

pub(super) struct World {
    /// The call-order counter behind [`CallRecord::start`] and `end`.
    pub(super) clock: AtomicU64,
    pub(super) state: Mutex<WorldState>,
}

impl World {
    pub(super) fn lock(&self) -> MutexGuard<'_, WorldState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Stamps the end of the call that started at `start`.
    pub(super) fn finish(&self, start: u64) {
        let end = self.tick();
        let mut st = self.lock();
        if let Some(rec) = st.calls.iter_mut().rev().find(|c| c.start == start) {
            rec.end = Some(end);
        }
    }
}

/// Tracks how many operations (and holders of each limit key) are in
/// flight; undone on drop, so a cancelled call leaves no trace.
pub(super) struct InFlight<'a> {
    pub(super) world: &'a World,
    pub(super) call_keys: Vec<String>,
    pub(super) op_keys: Vec<String>,
    pub(super) calls_held: bool,
}

impl<'a> InFlight<'a> {
    pub(super) fn enter(world: &'a World, call_keys: Vec<String>, op_keys: Vec<String>) -> Self {
        let mut st = world.lock();
        st.ops_in_flight += 1;
        st.max_ops_in_flight = st.max_ops_in_flight.max(st.ops_in_flight);
        st.enter(&op_keys);
        st.enter(&call_keys);
        drop(st);
        InFlight {
            world,
            call_keys,
            op_keys,
            calls_held: true,
        }
    }

    pub(super) fn release_calls(&mut self) {
        if self.calls_held {
            self.world.lock().leave(&self.call_keys);
            self.calls_held = false;
        }
    }

    pub(super) fn reacquire_calls(&mut self) {
        if !self.calls_held {
            self.world.lock().enter(&self.call_keys);
            self.calls_held = true;
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut st = self.world.lock();
        st.ops_in_flight = st.ops_in_flight.saturating_sub(1);
        st.leave(&self.op_keys);
        if self.calls_held {
            st.leave(&self.call_keys);
        }
    }
}
