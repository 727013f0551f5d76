//! `rvisor features`: what this runtime supports (runtime-spec features.md).

use serde_json::json;

pub fn run() -> anyhow::Result<()> {
    let caps: Vec<String> = crate::oci::cap_names().collect();
    // The platform of a container created without --platform or RVISOR_PLATFORM.
    let platform = super::platform_name(rvisor_sentry::platform::systrap::cpu_supported());
    let f = json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::container::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["ro", "rw", "bind", "rbind", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "mode", "uid", "gid"],
        "linux": {
            "namespaces": ["pid", "network", "ipc", "uts", "mount"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false},
            "seccomp": {"enabled": false},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false}
        },
        "annotations": {
            "io.github.rvisor.platform": platform,
            "org.opencontainers.runc.checkpoint.enabled": "false"
        }
    });
    println!("{}", serde_json::to_string_pretty(&f)?);
    Ok(())
}
