"""The seccomp profile of gVisor sandboxes, as data: shared by the judge and the Docker proxy.

Docker's default profile answers `clone3` with ENOSYS so that glibc falls back to `clone`; the
runsc release on these hosts applies the profile with `--oci-seccomp` but returns EPERM instead of
the configured errno, so every `pthread_create` fails and threaded programs die. Under gVisor the
sentry is the kernel the submission talks to and it already answers `clone3` with ENOSYS itself,
so this profile allows by default and refuses what a submission never needs: namespaces, mounts,
keyrings, bpf, ptrace and friends (defence in depth on top of gVisor; runc keeps Docker's default).

Standard library only and outside app/judge, so the proxy (app/deploy/, stdlib only) can compare a
container's profile with this one without importing the judge and its dependencies.
"""

from __future__ import annotations

DENIED = [
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "create_module",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "get_kernel_syms",
    "init_module",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "nfsservctl",
    "open_by_handle_at",
    "open_tree",
    "perf_event_open",
    "pidfd_getfd",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "query_module",
    "quotactl",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "sysfs",
    "umount",
    "umount2",
    "unshare",
    "uselib",
    "userfaultfd",
    "ustat",
    "vm86",
    "vm86old",
]
# clone(2) flags that create namespaces: refused one by one (a masked-equal test per flag).
NAMESPACE_FLAGS = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000]
EPERM = 1


def runsc_profile() -> dict[str, object]:
    rules: list[dict[str, object]] = [
        {"names": DENIED, "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM},
    ]
    for flag in NAMESPACE_FLAGS:
        rules.append(
            {
                "names": ["clone"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": EPERM,
                "args": [{"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}],
            }
        )
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
        "syscalls": rules,
    }
