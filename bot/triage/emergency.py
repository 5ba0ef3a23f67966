"""Emergency numbers and crisis lines by country (ISO 3166-1 alpha-2). Pure table."""

from __future__ import annotations

from dataclasses import dataclass

_WIKI = 'Wikipedia "List of emergency telephone numbers"'
_EU112 = "European Commission: 112, the single European emergency number"


@dataclass(frozen=True)
class Country:
    emergency: str  # what "Call {number} now." says; a medical emergency reaches an ambulance through it
    crisis: str | None  # suicide and crisis line; None where we could not confirm one
    source: str


COUNTRIES: dict[str, Country] = {
    # North America and the Caribbean
    "US": Country("911", "988 (call or text)", "FCC 911; 988lifeline.org"),
    "CA": Country("911", "988 (call or text)", "CRTC 9-1-1; 988.ca (launched Nov 2023)"),
    "PR": Country("911", "988 (call or text)", "FCC 911 (US territory); 988lifeline.org"),
    "MX": Country("911", "800 911 2000 (Linea de la Vida)", "Gobierno de Mexico: 911; Linea de la Vida (CONASAMA)"),
    "DO": Country("911", None, "Sistema Nacional de Atencion a Emergencias y Seguridad 9-1-1 (Republica Dominicana)"),
    "CU": Country("104", None, f"{_WIKI}: Cuba ambulance 104, fire 105, police 106"),
    # Central America
    "GT": Country("122", None, "Bomberos Voluntarios 122 (prehospital care); police 110"),
    "HN": Country("911", None, "Sistema Nacional de Emergencias 911 (Honduras)"),
    "SV": Country("911", None, "Sistema de Emergencias 911 (El Salvador)"),
    "NI": Country("128", None, "Cruz Blanca national ambulance line 128 (Ley 1155, 2023); police 118"),
    "CR": Country("911", None, "Sistema de Emergencias 9-1-1 (Costa Rica)"),
    "PA": Country("911", None, "Sistema Unico de Manejo de Emergencias (SUME) 911 (Panama)"),
    # South America
    "AR": Country("107", None, f"{_WIKI}: Argentina medical emergencies (SAME) 107; 911 police in most provinces"),
    "BO": Country("110", None, "BOL-110 integrated emergency line (police); ambulance numbers vary by city"),
    "BR": Country("192", "188 (CVV)", "SAMU 192 (Ministerio da Saude); Centro de Valorizacao da Vida 188"),
    "CL": Country("131", "*4141", "SAMU 131 (MINSAL); Linea de prevencion del suicidio *4141 (MINSAL, 2023)"),
    "CO": Country("123", None, "Linea unica de emergencias 123 (Colombia)"),
    "EC": Country("911", None, "Servicio Integrado de Seguridad ECU 911"),
    "PE": Country("106", "113 (opcion 5)", "SAMU 106 (MINSA); Linea 113 opcion 5 salud mental (MINSA)"),
    "PY": Country("911", None, "Sistema 911 (Paraguay); SEME ambulances 141"),
    "UY": Country("911", "0800 0767 or *0767", "Sistema 911 (Uruguay); Linea Vida 0800 0767 (MSP)"),
    "VE": Country("911", None, "VEN 911 (Venezuela)"),
    # Europe
    "GB": Country("999", "116 123 (Samaritans)", "NHS: call 999; Samaritans 116 123"),
    "IE": Country("112", "116 123 (Samaritans)", f"{_EU112} (999 also works); Samaritans Ireland 116 123"),
    "ES": Country("112", "024", f"{_EU112}; Linea 024 de atencion a la conducta suicida (Ministerio de Sanidad)"),
    "FR": Country("112", "3114", f"{_EU112} (SAMU 15); 3114 numero national de prevention du suicide"),
    "DE": Country("112", "0800 111 0 111 (TelefonSeelsorge)", f"{_EU112}; TelefonSeelsorge 0800 111 0 111"),
    "IT": Country("112", None, _EU112),
    "PT": Country("112", None, _EU112),
    "NL": Country("112", "113 or 0800 0113", f"{_EU112}; 113 Zelfmoordpreventie"),
    # Elsewhere
    "AU": Country("000", "13 11 14 (Lifeline)", "Triple Zero (000), Australian Government; Lifeline 13 11 14"),
    "NZ": Country("111", "1737 (call or text)", "NZ Police / St John: 111; Need to talk? 1737 (Te Whatu Ora)"),
    "IN": Country("112", "14416 (Tele-MANAS)", "Emergency Response Support System 112; Tele-MANAS 14416 (MoHFW)"),
    "ZA": Country("10177", "0800 567 567 (SADAG)", f"{_WIKI}: South Africa ambulance 10177, 112 from mobiles; SADAG"),
    "JP": Country("119", None, "Fire and Disaster Management Agency: 119 fire and ambulance"),
}


def _row(country: str | None, default_country: str) -> Country:
    key = (country or "").strip().upper()
    if key in COUNTRIES:
        return COUNTRIES[key]
    return COUNTRIES.get(default_country.strip().upper(), COUNTRIES["US"])


def emergency_number(country: str | None, default_country: str = "US") -> str:
    """The number to call for an ambulance; an unknown country gets the default country's number."""
    return _row(country, default_country).emergency


def crisis_line(country: str | None, default_country: str = "US") -> str | None:
    """A suicide and crisis line to offer beside the emergency number, or None if we have none for it."""
    return _row(country, default_country).crisis
