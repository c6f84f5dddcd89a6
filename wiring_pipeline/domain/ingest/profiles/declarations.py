"""The known export shapes, one declaration each (DESIGN 3d).

Column names are the tools' own, from their documentation and from real files
(`/work/shared/real_exports`): where versions differ, every spelling is an alternative, in
the order it is preferred. A new shape is one more `Profile` here; recognition, the
resolved spec and the precedence hints follow from it (`model.py`, `recognition.py`).

Facts the declarations rest on:

* RVTools writes one sheet per tab, and the same columns to CSV (`RVTools_tabvInfo.csv`);
  its command-line CSV export spells them `vInfoVMName`, `vInfoPowerstate`, ... `Memory` and
  `# Memory` are MiB without saying so; sizes say MiB (RVTools 4) or MB (older) in the
  header, which mean the same here (1 MB = 1024 KB, as the exports mean it). `DNS Name` is
  empty on powered-off VMs and shared by appliances: an FQDN, never an identity.
  `VM UUID` identifies a VM across renames; `VM` is the fallback.
* Azure Migrate's import template marks required headers with `*`; memory is in MB.
* The AWS Migration Hub (Application Discovery Service) import template namespaces its
  columns (`CPU.NumberOfCores`, `RAM.TotalSizeInMB`); `ExternalId` is the user's own key.
* `aws ec2 describe-instances` wraps `Reservations[].Instances[]`; its readers flatten
  nested objects (`State.Name`) and tag lists (`Tags.Name`); an untagged instance is
  named by its id.
* ServiceNow's list export writes field names: `ram` is MB and `disk_space` GB (Computer
  class), `used_for`/`classification` say production, staging, QA, UAT (Server class).
"""

from __future__ import annotations

from wiring_pipeline.domain.ingest.profiles.model import Profile

RVTOOLS_VINFO = Profile(
    name="rvtools-vinfo",
    title="RVTools vInfo (xlsx sheet or csv)",
    role="inventory-tool",
    sheet="vInfo",
    signature=(
        ("VM", "vInfoVMName"),
        ("Powerstate", "vInfoPowerstate"),
        ("CPUs", "vInfoCPUs"),
        ("Memory", "vInfoMemory"),
    ),
    fields={
        "name": ("VM", "vInfoVMName"),
        "power_state": ("Powerstate", "vInfoPowerstate"),
        "cpu_cores": ("CPUs", "vInfoCPUs"),
        "memory_gb": ("Memory", "vInfoMemory"),
        "storage_gb": (
            "Provisioned MiB",
            "Provisioned MB",
            "vInfoProvisioned",
            "Total disk capacity MiB",
            "vInfoTotalDiskCapacityMiB",
            "In Use MiB",
            "In Use MB",
            "vInfoInUse",
        ),
        "ip_address": ("Primary IP Address", "vInfoPrimaryIPAddress"),
        "fqdn": ("DNS Name", "vInfoGuestHostName"),
        "operating_system": (
            "OS according to the VMware Tools",
            "OS according to the configuration file",
            "vInfoOSTools",
            "vInfoOS",
        ),
        "hypervisor_host": ("Host", "vInfoHost"),
        "cluster": ("Cluster", "vInfoCluster"),
        "datacenter": ("Datacenter", "vInfoDataCenter"),
        "description": ("Annotation",),
        "bios_uuid": ("SMBIOS UUID", "VM UUID", "vInfoUUID"),
    },
    units={
        "Memory": "MiB",
        "vInfoMemory": "MiB",
        "vInfoProvisioned": "MiB",
        "vInfoTotalDiskCapacityMiB": "MiB",
        "vInfoInUse": "MiB",
    },
    constants={"asset_type": "virtual_machine"},
    identity=(("VM UUID",), ("vInfoUUID",), ("VM",), ("vInfoVMName",)),
)

RVTOOLS_VHOST = Profile(
    name="rvtools-vhost",
    title="RVTools vHost (xlsx sheet or csv): the ESXi hosts",
    role="inventory-tool",
    sheet="vHost",
    signature=(("Host",), ("# Cores",)),
    fields={
        "name": ("Host",),
        "cpu_cores": ("# Cores",),
        "memory_gb": ("# Memory",),
        "operating_system": ("ESX Version",),
        "manufacturer": ("Vendor",),
        "model": ("Model",),
        "serial_number": ("Serial number", "Service tag"),
        "bios_uuid": ("UUID",),
        "cluster": ("Cluster",),
        "datacenter": ("Datacenter",),
    },
    units={"# Memory": "MiB"},
    constants={"asset_type": "physical_server"},
    identity=(("UUID",), ("Host",)),
)

AZURE_MIGRATE_CSV = Profile(
    name="azure-migrate-csv",
    title="Azure Migrate import template (csv)",
    role="inventory-tool",
    signature=(
        ("*Server name", "Server name"),
        ("*Cores", "Cores"),
        ("*Memory (In MB)", "Memory (In MB)"),
        ("*OS name", "OS name"),
    ),
    fields={
        "name": ("*Server name", "Server name"),
        "ip_address": ("IP addresses",),
        "cpu_cores": ("*Cores", "Cores"),
        "memory_gb": ("*Memory (In MB)", "Memory (In MB)"),
        "operating_system": ("*OS name", "OS name"),
        "os_version": ("OS version",),
        "storage_gb": ("Storage in use (In GB)",),
    },
    constants={"asset_type": "server"},
    identity=(("*Server name",), ("Server name",)),
)

AWS_MIGRATION_HUB_CSV = Profile(
    name="aws-migration-hub-csv",
    title="AWS Migration Hub (Application Discovery Service) import template (csv)",
    role="inventory-tool",
    signature=(
        ("ExternalId", "HostName", "IPAddress", "MACAddress", "VMware.MoRefId"),
        (
            "CPU.NumberOfCores",
            "CPU.NumberOfLogicalCores",
            "CPU.NumberOfProcessors",
            "RAM.TotalSizeInMB",
            "OS.Name",
            "VMware.VMName",
        ),
    ),
    fields={
        "name": ("HostName", "VMware.VMName", "ExternalId"),
        "ip_address": ("IPAddress",),
        "mac_address": ("MACAddress",),
        "operating_system": ("OS.Name",),
        "os_version": ("OS.Version",),
        "cpu_cores": ("CPU.NumberOfCores", "CPU.NumberOfLogicalCores"),
        "memory_gb": ("RAM.TotalSizeInMB",),
        "bios_uuid": ("SMBiosId",),
        "application_name": ("Applications",),
    },
    constants={"asset_type": "server"},
    identity=(("ExternalId",), ("SMBiosId",), ("HostName",)),
)

AWS_EC2_INSTANCES = Profile(
    name="aws-ec2-describe-instances",
    title="aws ec2 describe-instances (json)",
    role="cloud",
    records_path="Reservations[].Instances[]",
    signature=(("InstanceId",), ("InstanceType",), ("State.Name", "ImageId")),
    fields={
        "name": ("Tags.Name", "InstanceId"),
        "instance_type": ("InstanceType",),
        "ip_address": ("PrivateIpAddress", "PublicIpAddress"),
        "fqdn": ("PrivateDnsName", "PublicDnsName"),
        "power_state": ("State.Name",),
        "location": ("Placement.AvailabilityZone",),
        "cpu_cores": ("CpuOptions.CoreCount",),
        "operating_system": ("PlatformDetails", "Platform"),
        "environment": ("Tags.Environment", "Tags.Env"),
        "owner": ("Tags.Owner",),
        "application_name": ("Tags.Application", "Tags.App"),
    },
    constants={"asset_type": "cloud_instance"},
    identity=(("InstanceId",),),
)

SERVICENOW_CMDB_CI_SERVER = Profile(
    name="servicenow-cmdb-ci-server",
    title="ServiceNow cmdb_ci_server list export (csv, field names)",
    role="cmdb",
    signature=(("name",), ("sys_id", "sys_class_name")),
    fields={
        "name": ("name",),
        "fqdn": ("fqdn",),
        "hostname": ("host_name",),
        "ip_address": ("ip_address",),
        "mac_address": ("mac_address",),
        "operating_system": ("os",),
        "os_version": ("os_version",),
        "cpu_cores": ("cpu_count", "cpu_core_count"),
        "memory_gb": ("ram",),
        "storage_gb": ("disk_space",),
        "serial_number": ("serial_number",),
        "manufacturer": ("manufacturer",),
        "model": ("model_id", "model_number"),
        "owner": ("owned_by", "managed_by", "assigned_to"),
        "environment": ("environment", "used_for", "classification"),
        "business_unit": ("business_unit", "department"),
        "location": ("location",),
        "description": ("short_description", "comments"),
    },
    units={"ram": "MB", "disk_space": "GB"},
    constants={"asset_type": "server"},
    identity=(("sys_id",), ("name",)),
)

#: Every profile, in the order recognition prefers them on a tie.
PROFILES: tuple[Profile, ...] = (
    RVTOOLS_VINFO,
    RVTOOLS_VHOST,
    AZURE_MIGRATE_CSV,
    AWS_MIGRATION_HUB_CSV,
    AWS_EC2_INSTANCES,
    SERVICENOW_CMDB_CI_SERVER,
)
