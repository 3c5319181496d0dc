//! The tasks around the instances: notify queues, sync groups and trackers, respawned on
//! every apply.

use super::*;

impl Supervisor {
    pub(super) fn notifiers(
        &mut self,
        config: &Config,
        run_as: Option<RunAs>,
    ) -> Result<HashMap<String, Notifier>, DaemonError> {
        let wanted = config.global.event_log.clone();
        if self.event_log.as_ref().map(|(p, _)| p) != wanted.as_ref() {
            self.event_log = match wanted {
                Some(path) => {
                    let stream = EventStream::open(path.clone()).map_err(|e| {
                        DaemonError::Control(format!("event log {}", path.display()), e)
                    })?;
                    Some((path, stream))
                }
                None => None,
            };
        }
        let _scripts = self.scripts.enter();
        let mut out = HashMap::new();
        for (name, inst) in &config.instances {
            let commands = Commands::from_config(&inst.notify, run_as)
                .map_err(|e| DaemonError::Scripts(format!("instance {name}: notify: {e}")))?;
            let vips = inst.vips.iter().map(|v| v.addr.to_string()).collect();
            let events = self.event_log.as_ref().map(|(_, s)| s.clone());
            let (notifier, task) = Notifier::spawn_counted(
                Subject::Instance,
                name,
                vips,
                commands,
                events,
                self.notify_counters
                    .entry(name.clone())
                    .or_default()
                    .clone(),
            );
            out.insert(name.clone(), notifier);
            self.notify_tasks.extend(task);
        }
        self.notify_tasks.retain(|t| !t.is_finished());
        Ok(out)
    }

    /// A notifier per sync group: its commands, if configured, and the event log.
    pub(super) fn group_notifiers(
        &mut self,
        config: &Config,
        run_as: Option<RunAs>,
    ) -> Result<HashMap<String, Notifier>, DaemonError> {
        let _scripts = self.scripts.enter();
        let mut out = HashMap::new();
        for name in config.groups.keys() {
            let notify = config.group_notify.get(name).cloned().unwrap_or_default();
            let commands = Commands::from_config(&notify, run_as)
                .map_err(|e| DaemonError::Scripts(format!("group {name}: notify: {e}")))?;
            let events = self.event_log.as_ref().map(|(_, s)| s.clone());
            let counters = self
                .notify_counters
                .entry(format!("group {name}"))
                .or_default()
                .clone();
            let (n, task) =
                Notifier::spawn_counted(Subject::Group, name, vec![], commands, events, counters);
            self.notify_tasks.extend(task);
            out.insert(name.clone(), n);
        }
        Ok(out)
    }

    pub(super) fn respawn_groups(
        &mut self,
        tasks: Vec<(SyncGroup, mpsc::UnboundedReceiver<GroupEvent>)>,
        mut notifiers: HashMap<String, Notifier>,
    ) {
        for t in self.groups.drain(..) {
            t.abort();
        }
        for (group, rx) in tasks {
            let members = group
                .members
                .iter()
                .filter_map(|m| Some((m.clone(), self.live.get(m)?.inbox.clone())))
                .collect();
            let notifier = notifiers.remove(&group.name);
            self.groups
                .push(tokio::spawn(groups::run(group, members, rx, notifier)));
        }
    }

    /// Restarts the tracker tasks for a new plan. New instances get their initial verdicts
    /// before they start; running ones keep their state, and lose only the fault sources of
    /// trackers that no longer exist.
    pub(super) async fn respawn_trackers(
        &mut self,
        plan: track::Plan,
        new: &[(String, mpsc::Sender<Input>)],
    ) {
        for t in self.trackers.drain(..) {
            t.abort();
        }
        let is_new = |n: &str| new.iter().any(|(m, _)| m == n);
        for t in &plan.instances {
            if let Some((_, inbox)) = new.iter().find(|(n, _)| *n == t.instance) {
                for input in t.initial_inputs() {
                    let _ = inbox.send(input).await;
                }
            }
        }
        for (name, live) in &self.live {
            if is_new(name) {
                continue;
            }
            let tracked: Vec<&str> = plan
                .instances
                .iter()
                .filter(|t| t.instance == *name)
                .flat_map(|t| t.trackers.iter().map(|k| k.source.as_str()))
                .collect();
            let faults = live.control.view.borrow().status.faults.clone();
            for source in faults
                .iter()
                .filter(|s| is_tracker_source(s) && !tracked.contains(&s.as_str()))
            {
                let _ = live
                    .inbox
                    .send(Input::Fault {
                        source: source.clone(),
                        active: false,
                    })
                    .await;
            }
        }
        let inboxes: HashMap<String, mpsc::Sender<Input>> = self
            .live
            .iter()
            .map(|(n, l)| (n.clone(), l.inbox.clone()))
            .collect();
        let baseline = |n: &str| {
            if is_new(n) {
                Baseline::Initial
            } else {
                Baseline::Untracked
            }
        };
        let _scripts = self.scripts.enter();
        self.trackers = plan.spawn(&inboxes, baseline, &self.board);
    }
}
