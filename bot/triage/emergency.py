"""Emergency numbers and crisis lines by country: the model flows/countries.yaml is checked against, and the
look-ups the engine and the shell make. Pure: the table arrives as data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from bot.triage.effects import Param

# Where the person's country has no row: 112 reaches the emergency services from GSM mobiles in the EU and many other
# countries (ETSI TS 122 101; EU Directive 2018/1972 art. 109). Never another country's number.
FALLBACK_DIAL = "112"
UNKNOWN_NUMBER = "number.unknown"  # the message {number} becomes then: "112 (from a mobile) or your local ..."

Region = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]  # ISO 3166-1 alpha-2, upper case
# Codes ISO 3166-1 reserves for a country that is coded otherwise ("UK", exceptionally reserved for the United
# Kingdom, whose code is GB): read as that country when a person types them.
RESERVED_CODES = {"UK": "GB"}
Dial = Annotated[str, StringConstraints(pattern=r"^[0-9*][0-9 *]*[0-9]$")]  # what is dialled, spaced as it is said
Source = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3)]


class CrisisLine(BaseModel):
    """A suicide and crisis line. Replies give its number only, so no name in another language reaches them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)  # for the people who review the table
    number: Dial
    how: Literal["call", "call_or_text"]  # "call or text" only where the line takes texts on this number
    option: int | None = Field(default=None, ge=0, le=9)  # the menu option to choose after dialling
    source: Source

    @model_validator(mode="after")
    def _one_wording(self) -> CrisisLine:
        if self.option is not None and self.how != "call":
            raise ValueError("a line with a menu option takes calls only")
        return self

    @property
    def message(self) -> str:
        """The message key that offers this line: `crisis.line.call`, `.call_or_text` or `.call_option`."""
        return "crisis.line.call_option" if self.option is not None else f"crisis.line.{self.how}"


class Country(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    emergency: Dial  # the number that reaches an ambulance
    source: Source
    crisis: CrisisLine | None = None  # None where no line is confirmed: the reply gives the emergency number alone


@dataclass(frozen=True)
class EmergencyNumber:
    """The number a reply names. `known` is False where the country has no row: the reply then says "112 (from a
    mobile) or your local emergency number", in the person's language, and 112 is the number to dial."""

    dial: str
    known: bool = True

    @property
    def param(self) -> Param:
        """The `{number}` parameter of a message: the digits, or the message key of the fallback wording."""
        return self.dial if self.known else (UNKNOWN_NUMBER,)


class CountryTable(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    countries: dict[Region, Country] = Field(default_factory=dict)

    def row(self, country: str | None, default_country: str) -> Country | None:
        """The row for the person's country, else (no country known) the deployment's; None if there is none."""
        code = (country or "").strip().upper() or default_country.strip().upper()
        return self.countries.get(code)

    def emergency(self, country: str | None, default_country: str, override: str | None = None) -> EmergencyNumber:
        if override:
            return EmergencyNumber(override)
        row = self.row(country, default_country)
        return EmergencyNumber(row.emergency) if row else EmergencyNumber(FALLBACK_DIAL, known=False)

    def crisis(self, country: str | None, default_country: str) -> CrisisLine | None:
        row = self.row(country, default_country)
        return row.crisis if row else None


class Regions(Protocol):
    """Countries by name: what the welcome and the COUNTRY command need (the shell's comes from phonenumbers)."""

    def name(self, code: str, locale: str) -> str | None:
        """The country's name in `locale`, or None."""
        ...

    def find(self, said: str) -> str | None:
        """The ISO code of the country `said` names, by its code or its name in any locale; None if none. `said` is
        read as messages are (bot.triage.text.clean, its words joined by single spaces): "mexico", "gb"."""
        ...


@dataclass(frozen=True)
class TableRegions:
    """Countries known by their code alone: those of the table (a deployment without country names)."""

    table: CountryTable

    def name(self, code: str, locale: str) -> str | None:
        return None

    def find(self, said: str) -> str | None:
        code = said.upper()
        code = RESERVED_CODES.get(code, code)
        return code if code in self.table.countries else None
