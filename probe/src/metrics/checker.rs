//! The check loop: gather the host's facts and audit them at start, every interval, and
//! right after the ruleset changed (a burst of changes, e.g. Docker adding a network's
//! twenty rules, costs one or two checks, not twenty).

use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::encode::{Exporter, unix_now};
use super::facts::CheckFacts;
use super::watch::Change;
use crate::docker::expect::Expectation;
use crate::docker::state::StateSource;
use crate::host::{self, HostError, Sources};
use crate::kernel::netns::NetnsSpec;
use crate::report::bundle::{Bundle, IptablesSection};

/// Changes closer together than this are one change.
const DEBOUNCE: Duration = Duration::from_millis(30);
/// A steady stream of changes still gets a check this often.
const MAX_SETTLE: Duration = Duration::from_millis(300);
/// Upper bound on how often ruleset changes start a check.
const MIN_GAP: Duration = Duration::from_millis(100);
/// How often the stop flag is looked at while waiting.
const TICK: Duration = Duration::from_millis(200);

/// iptables answers are asked again at least this often even when nothing changed (a new
/// iptables package answers differently).
const CLAIMS_MAX_AGE: Duration = Duration::from_secs(600);

pub struct Checker<'a> {
    pub ns: Option<&'a NetnsSpec>,
    pub sources: &'a Sources,
    pub interval: Duration,
    pub exporter: &'a Exporter,
    /// The last claims and what they were asked about.
    claims: Mutex<Option<Claims>>,
}

/// Asking the iptables binaries is most of a check's cost (one process per expected rule and
/// binary: seconds on a host with 1,000 Docker rules), and their answers depend only on the
/// kernel's rules and the questions. So a check whose kernel rules and expected rules are
/// unchanged reuses the last answers.
struct Claims {
    key: u64,
    at: Instant,
    section: IptablesSection,
}

/// What the answers depend on: the kernel's (Docker) rules without their packet counters,
/// and the expected rules.
fn claims_key(b: &Bundle, e: &Expectation) -> u64 {
    let mut kernel = b.kernel.clone();
    for rs in kernel.iter_mut().flat_map(|k| &mut k.rulesets) {
        for c in rs.tables.iter_mut().flat_map(|t| &mut t.chains) {
            c.counters = None;
            for r in &mut c.rules {
                r.counters = None;
            }
        }
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    match serde_json::to_vec(&(&kernel, e)) {
        Ok(bytes) => bytes.hash(&mut h),
        // Unhashable: never equal to an earlier key.
        Err(_) => Instant::now().hash(&mut h),
    }
    h.finish()
}

impl<'a> Checker<'a> {
    pub fn new(
        ns: Option<&'a NetnsSpec>,
        sources: &'a Sources,
        interval: Duration,
        exporter: &'a Exporter,
    ) -> Self {
        Self {
            ns,
            sources,
            interval,
            exporter,
            claims: Mutex::new(None),
        }
    }

    /// Docker's state and the kernel's rules, then the claims: reused when neither changed.
    /// When they must be asked again, `early` gets the check without them first, so the rule
    /// series move at once (asking takes seconds at 1,000 rules).
    fn gather(
        &self,
        early: &dyn Fn(&Bundle, &Expectation),
    ) -> Result<(Bundle, Expectation), HostError> {
        if self.sources.no_claims {
            return host::gather(self.ns, self.sources, true);
        }
        let quick = Sources {
            no_claims: true,
            ..self.sources.clone()
        };
        let (mut b, e) = host::gather(self.ns, &quick, true)?;
        if b.iptables.is_some() {
            // The bundle brought its own claims.
            return Ok((b, e));
        }
        let key = claims_key(&b, &e);
        let cache = self.claims.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.as_ref()
            && c.key == key
            && c.at.elapsed() < CLAIMS_MAX_AGE
        {
            b.iptables = Some(c.section.clone());
            return Ok((b, e));
        }
        early(&b, &e);
        drop(cache);
        let (b, e) = host::gather(self.ns, self.sources, true)?;
        let mut cache = self.claims.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(section) = &b.iptables {
            *cache = Some(Claims {
                key: claims_key(&b, &e),
                at: Instant::now(),
                section: section.clone(),
            });
        }
        Ok((b, e))
    }

    /// Run checks until `stop()`.
    pub fn run(&self, rx: &Receiver<Change>, stop: &dyn Fn() -> bool) {
        let mut trigger = "start";
        let mut watching = true;
        while !stop() {
            let started = Instant::now();
            self.check_once(trigger);
            let due = started + self.interval;
            trigger = loop {
                self.exporter.state().beat("check");
                if stop() {
                    return;
                }
                let now = Instant::now();
                if now >= due {
                    break "interval";
                }
                let wait = (due - now).min(TICK);
                if !watching {
                    std::thread::sleep(wait);
                    continue;
                }
                match rx.recv_timeout(wait) {
                    Ok(_) => {
                        // Let the rest of the burst arrive (bounded), then check once.
                        let first = Instant::now();
                        while rx.recv_timeout(DEBOUNCE).is_ok() {
                            if first.elapsed() >= MAX_SETTLE {
                                break;
                            }
                        }
                        std::thread::sleep(MIN_GAP.saturating_sub(started.elapsed()));
                        break "ruleset_change";
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => watching = false,
                }
            };
        }
    }

    /// One check; its result (or error) lands in the exporter's state.
    pub fn check_once(&self, trigger: &'static str) {
        let t0 = Instant::now();
        let audit = |b: &Bundle, e: &Expectation| {
            let no_docker = self.sources.docker_state.is_none()
                && b.docker.source == StateSource::Netlink
                && b.docker.networks.is_empty();
            // No Engine API and no Docker bridge: Docker expects nothing here (as `check`
            // says); "every rule missing" would be a false alarm.
            (!no_docker).then(|| host::audit(b, e))
        };
        // Without claims an audit says `missing` where the CLI lies; lies and host findings
        // keep the last full check's values until this one's are in.
        let early = |b: &Bundle, e: &Expectation| {
            let Some(a) = audit(b, e) else { return };
            let mut st = self.exporter.state();
            let mut facts = CheckFacts::from_audit(&a, &st.limits);
            if let Some(prev) = &st.check {
                facts.lies = prev.lies.clone();
                facts.host = prev.host.clone();
            }
            log::debug!(
                "check ({trigger}): {} missing before asking iptables",
                facts.missing()
            );
            st.check = Some(facts);
        };
        let result = self.gather(&early).map(|(b, e)| audit(&b, &e));
        let secs = t0.elapsed().as_secs_f64();
        self.exporter.observe_check(secs);
        trim_heap();
        let mut st = self.exporter.state();
        *st.checks.runs.entry(trigger).or_default() += 1;
        st.checks.last_time = Some(unix_now());
        match result {
            Ok(audit) => {
                let facts = match &audit {
                    Some(a) => CheckFacts::from_audit(a, &st.limits),
                    None => CheckFacts::default(),
                };
                log_change(
                    trigger,
                    st.check.as_ref().map(CheckFacts::missing),
                    facts.missing(),
                );
                st.check = Some(facts);
                st.checks.last_success = true;
                st.checks.last_error = None;
            }
            Err(e) => {
                let msg = error_text(&e);
                log::error!("check ({trigger}) failed: {msg}");
                st.checks.errors += 1;
                st.checks.last_success = false;
                st.checks.last_error = Some(msg);
            }
        }
    }
}

/// Return free heap memory to the kernel: glibc keeps what a check or the probe's start-up
/// freed (tens of MiB on a 50,000-rule host) for the life of the process otherwise.
pub fn trim_heap() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim has no preconditions; it only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A warning when rules went missing, a note when they are all back.
fn log_change(trigger: &str, before: Option<u64>, now: u64) {
    if before == Some(now) {
        return;
    }
    if now > 0 {
        log::warn!("check ({trigger}): {now} rule(s) Docker should have are missing");
    } else {
        log::info!("check ({trigger}): no rule Docker should have is missing");
    }
}

fn error_text(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !msg.contains(&t) {
            msg.push_str(": ");
            msg.push_str(&t);
        }
        src = s.source();
    }
    msg
}
