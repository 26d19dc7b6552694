import { passwordStrength } from '../validation'

const COLORS = ['bg-red-700', 'bg-red-600', 'bg-amber-500', 'bg-teal-600', 'bg-emerald-700']

export function PasswordStrength({ password, id }: { password: string; id: string }) {
  const s = passwordStrength(password)
  return (
    <div id={id} aria-live="polite" className="mt-2">
      <div className="flex gap-1" aria-hidden="true">
        {[0, 1, 2, 3].map((i) => (
          <div key={i} className={`h-1.5 flex-1 rounded ${i < s.score ? COLORS[s.score] : 'bg-slate-200'}`} />
        ))}
      </div>
      <p className="mt-1 text-sm text-slate-800">
        Strength: <span className="font-medium" data-testid="password-strength">{s.label}</span>
        {s.hints.length > 0 && <span className="text-slate-700"> — {s.hints[0]}</span>}
      </p>
    </div>
  )
}
