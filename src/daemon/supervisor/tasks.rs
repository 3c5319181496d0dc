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
        let format = config.global.event_log_format;
        let current = self.event_log.as_ref().map(|(p, s)| (p, s.format()));
        if current != wanted.as_ref().map(|p| (p, format)) {
            self.event_log = match wanted {
                Some(path) => {
                    let stream = EventStream::open(path.clone(), format).map_err(|e| {
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
            let commands = Commands::from_config(inst.notify(), run_as)
                .map_err(|e| DaemonError::Scripts(format!("instance {name}: notify: {e}")))?;
            let vips = inst.vips.iter().map(|v| v.addr.to_string()).collect();
            if let Some(notifier) = self.queue(Subject::Instance, name, vips, commands) {
                out.insert(name.clone(), notifier);
            }
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
            if let Some(n) = self.queue(Subject::Group, name, vec![], commands) {
                out.insert(name.clone(), n);
            }
        }
        Ok(out)
    }

    /// The notify queue of an instance (or group), one for the daemon's life: a reload renews
    /// its commands instead of starting a second queue beside the first, so notifications keep
    /// their order and never run side by side. `None` where none is
    /// [`Notifier::needed`].
    fn queue(
        &mut self,
        subject: Subject,
        name: &str,
        vips: Vec<String>,
        commands: Commands,
    ) -> Option<Notifier> {
        let events = self.event_log.as_ref().map(|(_, s)| s.clone());
        let key = (subject, name.to_owned());
        if !Notifier::needed(&commands, events.as_ref(), self.queues.get(&key)) {
            self.queues.remove(&key);
            return None;
        }
        let (n, task) = match self.queues.get(&key) {
            Some(old) => old.renewed(vips, commands, events),
            None => {
                let counters_key = match subject {
                    Subject::Instance => Arc::from(name),
                    Subject::Group => Arc::from(format!("group {name}")),
                };
                let counters = self
                    .notify_counters
                    .entry(counters_key)
                    .or_default()
                    .clone();
                Notifier::spawn_counted(subject, name, vips, commands, events, counters)
            }
        };
        self.notify_tasks.extend(task);
        self.queues.insert(key, n.clone());
        Some(n)
    }

    pub(super) fn respawn_groups(
        &mut self,
        tasks: Vec<(SyncGroup, mpsc::UnboundedReceiver<GroupEvent>)>,
        mut notifiers: HashMap<String, Notifier>,
    ) {
        for t in self.groups.drain(..) {
            t.abort();
        }
        for (mut group, rx) in tasks {
            let members = group
                .members
                .iter()
                .filter_map(|m| Some((m.clone(), self.live.get(&**m)?.control.inbox.clone())))
                .collect();
            // Where each running member stands, so the rebuilt group neither forgets it nor
            // notifies a group change that did not happen.
            for (name, live) in &self.live {
                group.seed(name, live.control.view.borrow().state);
            }
            let notifier = notifiers.remove(&group.name);
            self.groups
                .push(tokio::spawn(groups::run(group, members, rx, notifier)));
        }
    }

    /// Restarts the tracker tasks for a new plan. Every check reports its first result
    /// afresh; the routers weigh health by their own (reloaded) configuration, so nothing
    /// here needs to know what a router was told before.
    pub(super) fn respawn_trackers(&mut self, plan: track::Plan) {
        for t in self.trackers.drain(..) {
            t.abort();
        }
        let inboxes: HashMap<String, RouterInbox> = self
            .live
            .iter()
            .map(|(n, l)| (n.to_string(), l.control.inbox.clone()))
            .collect();
        let _scripts = self.scripts.enter();
        self.trackers = plan.spawn(&inboxes, &self.board);
    }
}
