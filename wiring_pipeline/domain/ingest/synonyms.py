"""What people call each inventory field in a column header, in English, German and French.

Data only: names as people write them, accents and all; the suggestion compares them in
the normal form of `headers.read_header`, so `Nom d'hôte`, `nom d hote` and `NOM_D_HOTE`
are one name, and a unit (`RAM (GB)`) is never part of one. A name belongs to one field:
`Host` is the machine's host name here; the ESXi host of a VM is `ESX host`.
"""

from __future__ import annotations

from wiring_pipeline.domain.contract.fields import INVENTORY_FIELDS
from wiring_pipeline.domain.ingest.headers import read_header

SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": (
        "Name", "Asset name", "Server name", "Servername", "Computer name", "Machine name",
        "Device name", "VM", "VM name", "CI name", "Display name", "Asset", "Server",
        "Gerätename", "Gerätebezeichnung", "Bezeichnung", "Computername", "Systemname",
        "Nom", "Nom du serveur", "Nom serveur", "Nom de la machine", "Nom de l'équipement",
        "Nom de l'actif", "Serveur",
    ),
    "asset_type": (
        "Asset type", "Type", "CI class", "Class", "Category", "Device type", "Server type",
        "Asset class", "Kind", "Typ", "Gerätetyp", "Anlagentyp", "Assettyp", "Art",
        "Kategorie", "Type d'actif", "Type d'équipement", "Catégorie", "Classe",
    ),
    "environment": (
        "Environment", "Env", "Stage", "Lifecycle", "Used for", "Umgebung", "Stufe",
        "Systemumgebung", "Environnement",
    ),
    "hostname": (
        "Hostname", "Host name", "Host", "Short name", "DNS hostname", "Rechnername",
        "Nom d'hôte", "Hôte",
    ),
    "fqdn": (
        "FQDN", "Fully qualified domain name", "DNS name", "DNS", "Full hostname",
        "DNS-Name", "Vollqualifizierter Domänenname", "Nom de domaine complet", "Nom DNS",
    ),
    "ip_address": (
        "IP", "IP address", "IP addresses", "IPv4", "IPv4 address", "IPv6 address",
        "Primary IP", "Primary IP address", "Private IP address", "Management IP",
        "IP-Adresse", "IP-Adressen", "Adresse IP", "Adresses IP",
    ),
    "operating_system": (
        "OS", "Operating system", "OS name", "Platform", "Betriebssystem", "BS",
        "Système d'exploitation", "SE", "Système",
    ),
    "os_version": (
        "OS version", "Operating system version", "Version", "Betriebssystemversion",
        "BS-Version", "Version du système d'exploitation", "Version OS", "Version SE",
    ),
    "cpu_cores": (
        "Cores", "CPU cores", "CPUs", "CPU", "vCPU", "vCPUs", "Number of cores", "Core count",
        "CPU count", "Num CPU", "Processors", "CPU core count", "Kerne", "CPU-Kerne",
        "Anzahl Kerne", "Prozessoren", "Anzahl CPUs", "Prozessorkerne", "Cœurs",
        "Nombre de cœurs", "Processeurs", "Nombre de processeurs", "Nombre de CPU",
    ),
    "memory_gb": (
        "Memory", "RAM", "Memory size", "Total memory", "RAM size", "Mem", "Arbeitsspeicher",
        "Speicher", "Hauptspeicher", "RAM-Größe", "Mémoire", "Mémoire vive", "Taille mémoire",
    ),
    "storage_gb": (
        "Storage", "Disk", "Disk size", "Disk space", "Total disk", "Storage size",
        "Provisioned storage", "Disk capacity", "HDD", "Total storage", "Festplatte",
        "Plattenspeicher", "Speicherplatz", "Festplattengröße", "Datenträger", "Stockage",
        "Disque", "Taille disque", "Espace disque", "Capacité disque",
    ),
    "owner": (
        "Owner", "Owned by", "Responsible", "Contact", "Technical owner", "Business owner",
        "System owner", "Managed by", "Assigned to", "Besitzer", "Verantwortlicher",
        "Verantwortlich", "Eigentümer", "Ansprechpartner", "Zuständig", "Propriétaire",
        "Responsable",
    ),
    "location": (
        "Location", "Site", "Room", "Building", "City", "Standort", "Ort", "Raum", "Gebäude",
        "Emplacement", "Lieu", "Localisation", "Salle",
    ),
    "business_unit": (
        "Business unit", "Department", "Division", "BU", "Organisation", "Organization",
        "Org unit", "Geschäftsbereich", "Abteilung", "Bereich", "Organisationseinheit",
        "Unité commerciale", "Département", "Direction", "Entité",
    ),
    "application_name": (
        "Application", "App", "Application name", "Business service", "Applications",
        "Anwendung", "Applikation", "Anwendungsname", "Fachanwendung",
        "Nom de l'application",
    ),
    "criticality": (
        "Criticality", "Business criticality", "Tier", "Priority", "Importance", "SLA",
        "Kritikalität", "Priorität", "Schutzbedarf", "Wichtigkeit", "Criticité", "Priorité",
        "Niveau de criticité",
    ),
    "description": (
        "Description", "Comments", "Comment", "Notes", "Note", "Annotation", "Remarks",
        "Short description", "Beschreibung", "Bemerkung", "Kommentar", "Notiz",
        "Anmerkung", "Commentaire", "Remarque",
    ),
    "serial_number": (
        "Serial", "Serial number", "Serialnumber", "Serial no", "S/N", "SN", "Service tag",
        "Seriennummer", "Serien-Nr", "Seriennr", "Numéro de série", "N° de série",
        "No de série",
    ),
    "manufacturer": (
        "Manufacturer", "Vendor", "Make", "Brand", "OEM", "Hersteller", "Fabricant",
        "Constructeur", "Marque",
    ),
    "model": ("Model", "Model name", "Hardware model", "Product", "Modell", "Modèle"),
    "power_state": (
        "Power state", "Powerstate", "State", "Power", "Running state", "Instance state",
        "Betriebszustand", "Energiezustand", "Einschaltzustand", "État",
        "État d'alimentation",
    ),
    "bios_uuid": (
        "BIOS UUID", "UUID", "System UUID", "SMBIOS UUID", "Hardware UUID", "BIOS ID",
        "VM UUID", "BIOS-UUID", "UUID du BIOS",
    ),
    "mac_address": (
        "MAC", "MAC address", "MAC addresses", "Physical address", "MAC-Adresse",
        "Adresse MAC",
    ),
    "cloud_instance_id": (
        "Instance ID", "Cloud instance ID", "EC2 instance ID", "Resource ID", "Instanz-ID",
        "Identifiant d'instance", "ID d'instance",
    ),
    "instance_type": (
        "Instance type", "VM size", "Machine type", "Flavor", "SKU", "Instanztyp",
        "Type d'instance",
    ),
    "cluster": ("Cluster", "Cluster name", "Grappe"),
    "hypervisor_host": (
        "ESX host", "ESXi host", "Hypervisor host", "VM host", "Physical host", "Host server",
        "Hôte physique", "Hôte de virtualisation",
    ),
    "datacenter": (
        "Datacenter", "Data center", "Datacentre", "DC", "Rechenzentrum", "RZ",
        "Centre de données",
    ),
}  # fmt: skip

#: Words that make a header a measure of use or speed, not a size, count or name
#: (`Memory utilization`, `CPU usage %`, `Disk read throughput`): never matched loosely.
NOT_AN_ATTRIBUTE = frozenset((
    "utilization", "utilisation", "usage", "used", "percent", "percentage", "pct", "throughput",
    "ops", "per", "second", "speed", "mhz", "ghz", "free", "avg", "max", "min", "average", "peak",
    "ratio", "auslastung", "belegt", "frei", "libre", "taux", "nutzung",
))  # fmt: skip

#: Words that qualify a name without changing what it names (`Primary owner`, `Server
#: hostname`, `Nom du serveur`): a header that is a synonym once they are dropped matches.
QUALIFIERS = frozenset((
    "primary", "main", "principal", "principale", "primaire", "haupt", "server", "vm", "host",
    "system", "current", "assigned", "total", "de", "du", "des", "d", "l", "la", "le", "der",
    "die", "das",
))  # fmt: skip


def _index() -> dict[str, str]:
    index: dict[str, str] = {}
    for target, names in SYNONYMS.items():
        if target not in INVENTORY_FIELDS:
            raise ValueError(f"synonyms for unknown field {target}")
        for name in names:
            text = read_header(name).text
            if index.setdefault(text, target) != target:
                raise ValueError(f"synonym {name!r} names both {index[text]} and {target}")
    return index


#: Normal form of every synonym -> its field.
SYNONYM_INDEX: dict[str, str] = _index()
