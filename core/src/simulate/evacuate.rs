//! `incus cluster evacuate M` (migrate mode) and `incus cluster restore M`.

use super::place::{first, Call, Run, Step};
use super::request::{existing_instance_request, relocation_request};
use crate::model::MemberStatus;

impl Run<'_> {
    /// Each instance on the member, in order, gets an `evacuation` call on that member; the
    /// first failure stops the evacuation and the member goes back online.
    pub(super) fn evacuate(&mut self, member_name: &str) -> Step {
        if !self.member_exists(member_name) {
            return Ok(());
        }
        self.working
            .set_member_status(member_name, MemberStatus::Evacuating);
        let on_member: Vec<usize> = (0..self.working.snapshot().instances.len())
            .filter(|&i| self.working.snapshot().instances[i].location == member_name)
            .collect();
        for index in on_member {
            let state = self.working.snapshot();
            let instance = state.instances[index].clone();
            let key = format!("{}/{}", instance.project, instance.name);
            let found = self.candidates_for_existing(&instance);
            let call = Call {
                instance: key.clone(),
                runs_on: member_name.to_owned(),
                request: existing_instance_request(&instance, "evacuation"),
                candidates: found.members,
                excluded: found.excluded,
                fixed: false,
                validation_only: false,
            };
            match self.place(call, first)? {
                Ok(member) => {
                    self.working.update_instance(index, |moved| {
                        moved.location = member.clone();
                        moved
                            .config
                            .insert("volatile.evacuate.origin".into(), member_name.to_owned());
                    });
                    self.placed(&key, &member, &instance.project);
                }
                Err(error) => {
                    // The evacuation stops and the member goes back to its state.
                    self.working.set_member_status(member_name, MemberStatus::Online);
                    self.fail(&key, format!("Failed to evacuate instances: {error}"));
                    return Ok(());
                }
            }
        }
        self.working
            .set_member_status(member_name, MemberStatus::Evacuated);
        Ok(())
    }

    /// Each instance evacuated from the member moves back with a relocation call fixed on it.
    pub(super) fn restore(&mut self, member_name: &str) -> Step {
        if !self.member_exists(member_name) {
            return Ok(());
        }
        self.working.set_member_status(member_name, MemberStatus::Online);
        let returning: Vec<usize> = (0..self.working.snapshot().instances.len())
            .filter(|&i| {
                self.working.snapshot().instances[i]
                    .config
                    .get("volatile.evacuate.origin")
                    .map(String::as_str)
                    == Some(member_name)
            })
            .collect();
        for index in returning {
            let instance = self.working.snapshot().instances[index].clone();
            let key = format!("{}/{}", instance.project, instance.name);
            let request = relocation_request(
                self.simulator.profile,
                self.working.snapshot(),
                &instance,
                &instance.project,
                &instance.project,
            );
            let request = match request {
                Ok(request) => request,
                Err(error) => {
                    self.fail(&key, error);
                    continue;
                }
            };
            let call = Call {
                instance: key.clone(),
                runs_on: instance.location.clone(),
                request,
                candidates: vec![member_name.to_owned()],
                excluded: Vec::new(),
                fixed: true,
                validation_only: true,
            };
            match self.place(call, first)? {
                Err(error) => self.fail(&key, error),
                Ok(member) => {
                    self.working.update_instance(index, |moved| {
                        moved.location = member.clone();
                        moved.config.remove("volatile.evacuate.origin");
                    });
                    self.placed(&key, &member, &instance.project);
                }
            }
        }
        Ok(())
    }

    /// Whether `member_name` exists; a failed outcome saying it does not otherwise.
    fn member_exists(&mut self, member_name: &str) -> bool {
        let exists = self.working.snapshot().member(member_name).is_some();
        if !exists {
            self.fail(
                &format!("@{member_name}"),
                format!("Cluster member not found: {member_name}"),
            );
        }
        exists
    }
}
