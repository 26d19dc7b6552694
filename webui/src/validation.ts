// Client-side checks, so most mistakes are caught before a request. The rules are the API's own,
// taken from its OpenAPI document (src/generated, written by `make openapi` from the state schema);
// the API remains the authority: its 400 {"fields": {...}} are shown the same way.

import type { DomainMode, ServiceName } from './api'
import { limits } from './generated/api'

export const NAME_RE = new RegExp(limits.Label.pattern)
const DOMAIN_RE = new RegExp(limits.Domain.pattern)
const WG_KEY_RE = new RegExp(limits.WgKey.pattern)
export const MIN_PASSWORD_LENGTH = limits.Password.minLength

/** A cell, peer or user name: the schema's Label. */
export function validateName(name: string, empty: string): string | null {
  if (!name) return empty
  if (name.length > limits.Label.maxLength) return `Use at most ${limits.Label.maxLength} characters.`
  if (!NAME_RE.test(name))
    return `Use lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen (${limits.Label.maxLength} at most).`
  return null
}

const MAIL_LOCAL_RE = new RegExp(limits.MailLocalPart.pattern)

/** "sales, info.desk" as the list of a person's mail aliases (commas or spaces between them). */
export function parseAliases(text: string): string[] {
  return text.split(/[\s,]+/).map((a) => a.trim().toLowerCase()).filter(Boolean)
}

/** The first alias that is no valid address part, said as the field's error. */
export function validateAliases(aliases: string[]): string | null {
  const bad = aliases.find((a) => a.length > limits.MailLocalPart.maxLength || !MAIL_LOCAL_RE.test(a))
  if (bad !== undefined) return `${bad} is not ${limits.MailLocalPart.description}.`
  if (new Set(aliases).size !== aliases.length) return 'Each alias once.'
  return null
}

export function validateCellName(name: string): string | null {
  return validateName(name, 'Enter a name for the cell.')
}

export function validateDomain(domain: string): string | null {
  const d = domain.trim().toLowerCase().replace(/\.$/, '')
  if (!d) return 'Enter the domain.'
  if (d.length > limits.Domain.maxLength) return 'The domain is too long.'
  if (d.split('.').length < 2) return 'Enter a full domain name, such as home.example.org.'
  if (!DOMAIN_RE.test(d)) return `Enter ${limits.Domain.description}.`
  return null
}

export type Strength = { score: 0 | 1 | 2 | 3 | 4; label: string; hints: string[] }

/** A simple estimate: length and character variety, with penalties for repeats and sequences. */
export function passwordStrength(pw: string): Strength {
  const hints: string[] = []
  if (!pw) return { score: 0, label: 'empty', hints: [`Use at least ${MIN_PASSWORD_LENGTH} characters.`] }
  let points = 0
  if (pw.length >= MIN_PASSWORD_LENGTH) points += 1
  else hints.push(`Use at least ${MIN_PASSWORD_LENGTH} characters.`)
  if (pw.length >= 14) points += 1
  if (pw.length >= 20) points += 1
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((re) => re.test(pw)).length
  if (classes >= 3) points += 1
  else hints.push('Mix upper- and lowercase letters, digits and symbols, or use a long passphrase.')
  if (/(.)\1{2,}/.test(pw)) {
    points -= 1
    hints.push('Avoid repeated characters.')
  }
  if (/^(?:password|admin|letmein|qwerty|123456|secret)/i.test(pw)) {
    points = 0
    hints.push('Avoid common passwords.')
  }
  if (pw.length < MIN_PASSWORD_LENGTH) points = Math.min(points, 1)
  const score = Math.max(0, Math.min(4, points)) as Strength['score']
  const label = ['too weak', 'weak', 'fair', 'good', 'strong'][score]
  return { score, label, hints }
}

/** A new password (the admin's, a person's): the schema's least length, and not too easy to guess. */
export function validatePassword(pw: string): string | null {
  if (pw.length < MIN_PASSWORD_LENGTH) return `Use at least ${MIN_PASSWORD_LENGTH} characters.`
  if (passwordStrength(pw).score < 2) return 'This password is too easy to guess.'
  return null
}

export interface SetupForm {
  cell_name: string
  domain_mode: DomainMode
  domain: string
  timezone: string
  admin_password: string
  confirm_password: string
  services: ServiceName[]
}

export type FieldErrors = Partial<Record<string, string>>

export function validateSetup(f: SetupForm, timezones: string[]): FieldErrors {
  const e: FieldErrors = {}
  const n = validateCellName(f.cell_name)
  if (n) e.cell_name = n
  if (f.domain_mode === 'custom') {
    const d = validateDomain(f.domain)
    if (d) e.domain = d
  }
  if (!f.timezone) e.timezone = 'Choose a time zone.'
  else if (timezones.length && !timezones.includes(f.timezone)) e.timezone = 'Choose a time zone from the list.'
  const pw = validatePassword(f.admin_password)
  if (pw) e.admin_password = pw
  if (f.confirm_password !== f.admin_password) e.confirm_password = 'The passwords do not match.'
  if (!f.services.length) e.services = 'Choose at least one service.'
  return e
}

export interface PeerForm {
  name: string
  route: 'split' | 'full'
  public_key: string
}

export function validatePeer(f: PeerForm, existing: string[] = []): FieldErrors {
  const e: FieldErrors = {}
  const name = validateName(f.name, 'Enter a name for the device.')
  if (name) e.name = name
  else if (existing.includes(f.name)) e.name = 'A peer with this name exists already.'
  if (f.route !== 'split' && f.route !== 'full') e.route = 'Choose a route.'
  const key = f.public_key.trim()
  if (key && !WG_KEY_RE.test(key)) e.public_key = 'A WireGuard public key is 44 characters of base64 ending in "=".'
  return e
}

/** The time zones the browser knows, or a minimal list where it cannot say. */
export function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] }
  const list = typeof intl.supportedValuesOf === 'function' ? intl.supportedValuesOf('timeZone') : []
  return list.includes('UTC') ? list : ['UTC', ...list]
}

export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
  } catch {
    return 'UTC'
  }
}

/** A borg repository: an absolute path (another disk) or ssh://user@host[:port]/path; the API checks the rest. */
export function validateRepository(repository: string, empty: string | null): string | null {
  const r = repository.trim()
  if (!r) return empty
  if (!r.startsWith('/') && !/^ssh:\/\/[^@/\s]+@[^/\s]+\/\S*$/.test(r))
    return 'Enter an absolute path (a disk) or ssh://user@host/path.'
  return null
}

