//! `POST /1.0/instances` (6.0.4 `cmd/incusd/instances_post.go`), in Incus's order: the
//! instance-type shorthand, the target, the source (copied instance or image), the profiles,
//! the architecture filter, the `new` call, the record.

use super::image::{resolve_image, ImageLookup, NOT_PROVIDED};
use super::instance_type::{merge_instance_type, parse_instance_type};
use super::operation::{CreateOperation, SourceKind};
use super::place::{first, Call, Run, Step};
use super::request::expand;
use super::target::{check_target, Target};
use crate::engine::{InstanceSource, PlacementRequest};
use crate::model::{Config, Instance};
use crate::placement::CandidateQuery;

impl Run<'_> {
    pub(super) fn create(&mut self, create: &CreateOperation) -> Step {
        let key = format!("{}/{}", create.project, create.name);
        match self.prepare_create(create) {
            Ok(prepared) => self.place_new(&key, create, prepared),
            Err(error) => {
                self.fail(&key, error);
                Ok(())
            }
        }
    }

    /// Everything Incus checks and fills before the scriptlet call.
    fn prepare_create(&self, create: &CreateOperation) -> Result<PreparedCreate, String> {
        let state = self.working.snapshot();
        let mut config = create.config.clone();
        if let Some(shorthand) = &create.cloud_instance_type {
            merge_instance_type(&mut config, parse_instance_type(shorthand)?);
        }
        let project = state
            .project(&create.project)
            .cloned()
            .ok_or_else(|| format!("Project not found: {}", create.project))?;
        if self
            .working
            .instance_index(&create.project, &create.name)
            .is_some()
        {
            return Err("Instance name already in use".into());
        }
        let target = check_target(state, &project, &create.target)?;

        let mut instance_type = create.instance_type.clone();
        let mut profiles = create.profiles.clone();
        let mut devices = create.devices.clone();
        let mut request_architecture = create.architecture.clone();
        // Filter for candidates; `None`: any architecture.
        let mut architectures = (!create.architecture.is_empty()).then(|| vec![create.architecture.clone()]);
        let mut image_missing = false;
        let mut instance_architecture = create.architecture.clone();
        let source = &create.source;
        let mut request_source = InstanceSource {
            source_type: source.kind.as_str().into(),
            ..InstanceSource::default()
        };
        match source.kind {
            SourceKind::Copy => {
                let from_project = source.project.clone().unwrap_or_else(|| create.project.clone());
                let from = source.source.clone().unwrap_or_default();
                let copied = state
                    .instances
                    .iter()
                    .find(|i| i.project == from_project && i.name == from)
                    .ok_or("Source instance not found")?;
                // What `incus copy` sends: the source's writable state; the local devices
                // and config (volatile keys aside) become the copy's own.
                instance_type = Some(copied.instance_type.clone());
                profiles = profiles.or_else(|| Some(copied.profiles.clone()));
                let mut own = without_volatile(&copied.config);
                own.extend(config);
                config = own;
                let mut own_devices = copied.devices.clone();
                own_devices.extend(devices);
                devices = own_devices;
                request_architecture = copied.architecture.clone();
                instance_architecture = copied.architecture.clone();
                architectures = Some(vec![copied.architecture.clone()]).filter(|a| !a[0].is_empty());
                request_source.source = from;
                request_source.project = from_project;
            }
            SourceKind::Image => {
                request_source.alias = source.image_alias().unwrap_or_default().to_owned();
                request_source.fingerprint = source.image_fingerprint().unwrap_or_default().to_owned();
                // Snapshots taken before images were captured keep the older behaviour: no
                // image resolution, no architecture.
                if !state.images.is_empty() {
                    match resolve_image(state, &project, source)? {
                        ImageLookup::Found(image) => {
                            // 6.0.4 fills `architecture` and the image's profiles only when
                            // the request names no profiles; the filter always applies. An
                            // image listing no profiles (or captured before they were) gets
                            // `default` below, as Incus does for a nil list.
                            if profiles.is_none() {
                                request_architecture = image.architecture.clone();
                                if !image.profiles.is_empty() {
                                    profiles = Some(image.profiles.clone());
                                }
                            }
                            instance_architecture = image.architecture.clone();
                            architectures = Some(vec![image.architecture.clone()]);
                        }
                        missing @ ImageLookup::Missing { .. } => {
                            if !matches!(target, Target::Member(_)) {
                                return Err(missing.architecture_error().unwrap_or_default());
                            }
                            image_missing = true;
                        }
                    }
                }
            }
            SourceKind::None => {}
        }
        if architectures.is_none() {
            // Nothing ascertained from the source: the project's, else the server's default
            // architecture, when set (`images.default_architecture`).
            architectures = project
                .config
                .get("images.default_architecture")
                .or_else(|| state.server.config.get("images.default_architecture"))
                .filter(|architecture| !architecture.is_empty())
                .map(|architecture| vec![architecture.clone()]);
        }
        let profiles = profiles.unwrap_or_else(|| vec!["default".into()]);
        let (expanded_config, expanded_devices) =
            expand(state, project.profile_project(), &profiles, &config, &devices)?;
        let instance_type = instance_type.unwrap_or_else(|| "container".into());

        let (list, excluded, fixed) = match &target {
            Target::Member(member) => (vec![member.clone()], Vec::new(), true),
            Target::Group(_) | Target::Any => {
                let group = match &target {
                    Target::Group(group) => Some(group.as_str()),
                    _ => None,
                };
                let found = self.candidates(&CandidateQuery {
                    project: Some(&project),
                    group,
                    architectures,
                });
                (found.members, found.excluded, false)
            }
        };
        let request = PlacementRequest {
            reason: "new".into(),
            project: create.project.clone(),
            name: create.name.clone(),
            instance_type: instance_type.clone(),
            architecture: request_architecture,
            config: expanded_config.clone(),
            devices: expanded_devices.clone(),
            profiles: profiles.clone(),
            ephemeral: create.ephemeral,
            description: create.description.clone(),
            cloud_instance_type: create.cloud_instance_type.clone().unwrap_or_default(),
            source: request_source,
            ..PlacementRequest::default()
        };
        let group = match target {
            Target::Group(group) => Some(group),
            _ => None,
        };
        let instance = Instance {
            name: create.name.clone(),
            project: create.project.clone(),
            instance_type,
            status: "Stopped".into(),
            status_code: 102,
            architecture: instance_architecture,
            description: create.description.clone(),
            ephemeral: create.ephemeral,
            profiles,
            config,
            devices,
            expanded_config,
            expanded_devices,
            ..Instance::default()
        };
        Ok(PreparedCreate {
            request,
            candidates: list,
            excluded,
            fixed,
            group,
            image_missing,
            instance,
        })
    }

    fn place_new(&mut self, key: &str, create: &CreateOperation, prepared: PreparedCreate) -> Step {
        let runs_on = create
            .via
            .clone()
            .unwrap_or_else(|| self.working.snapshot().server.environment.server_name.clone());
        let call = Call {
            instance: key.to_owned(),
            runs_on,
            request: prepared.request,
            candidates: prepared.candidates,
            excluded: prepared.excluded,
            fixed: prepared.fixed,
            validation_only: false,
        };
        let member = match self.place(call, first)? {
            Ok(member) => member,
            Err(error) => {
                self.fail(key, error);
                return Ok(());
            }
        };
        if prepared.image_missing {
            self.fail(key, NOT_PROVIDED);
            return Ok(());
        }
        let mut instance = prepared.instance;
        instance.location = member.clone();
        // Recorded after the call: the scriptlet does not see it.
        if let Some(group) = prepared.group {
            instance.config.insert("volatile.cluster.group".into(), group);
        }
        self.working.add_instance(instance);
        self.placed(key, &member, &create.project);
        Ok(())
    }
}

struct PreparedCreate {
    request: PlacementRequest,
    candidates: Vec<String>,
    excluded: Vec<(String, crate::placement::Exclusion)>,
    fixed: bool,
    /// The `@group` target, recorded as `volatile.cluster.group`.
    group: Option<String>,
    /// A missing image with a member target: Incus fails only after placing.
    image_missing: bool,
    /// The record to add once placed (its location still empty).
    instance: Instance,
}

fn without_volatile(config: &Config) -> Config {
    config
        .iter()
        .filter(|(k, _)| !k.starts_with("volatile."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}
