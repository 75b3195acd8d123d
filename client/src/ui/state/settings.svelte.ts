import type { Settings } from '../../core/store/keystore.ts';
import { LANGUAGES, pickLanguage, type Language } from '../i18n.ts';

export type ThemeChoice = Settings['theme'];
export const THEME_CHOICES: readonly ThemeChoice[] = ['system', 'light', 'dark'];

/**
 * The browser bar and the installed app's title bar take the colour of the status bar
 * (--surface in theme.css) in each theme.
 */
const THEME_BAR_COLOURS = { light: '#ffffff', dark: '#161e25' } as const;

/** The part of the keystore that keeps settings (core/store/keystore.ts). */
export interface SettingsStore {
  loadSettings(): Promise<Settings>;
  saveSettings(patch: Partial<Settings>): Promise<void>;
}

/** Where the chosen language takes effect: the AppState's `lang`. */
export interface LanguageTarget {
  lang: Language;
}

export interface SettingsEnvironment {
  /** navigator.languages: used until the user picks a language. */
  languages: readonly string[];
  /** document.documentElement: gets `data-theme` when the user overrides the system theme. */
  root: HTMLElement;
  /** Settings could not be read or saved (IndexedDB full or closed): they still apply until reload. */
  onStorageError: (error: unknown) => void;
}

function isLanguage(s: string): s is Language {
  return Object.hasOwn(LANGUAGES, s);
}

/**
 * Theme, language and notification preference, kept in the keystore's settings so they
 * survive reloads (and "clear history", which leaves the keystore alone).
 */
export class SettingsState {
  #theme = $state<ThemeChoice>('system');
  /** null until the user picks one: the browser's language is used. */
  #language = $state<Language | null>(null);
  #notifications = $state(true);
  readonly #store: SettingsStore;
  readonly #target: LanguageTarget;
  readonly #env: SettingsEnvironment;

  private constructor(store: SettingsStore, target: LanguageTarget, env: SettingsEnvironment) {
    this.#store = store;
    this.#target = target;
    this.#env = env;
  }

  /** Reads the saved settings and applies them (theme on <html>, language on the app). */
  static async load(store: SettingsStore, target: LanguageTarget, env: SettingsEnvironment): Promise<SettingsState> {
    const state = new SettingsState(store, target, env);
    try {
      const saved = await store.loadSettings();
      state.#theme = saved.theme;
      state.#language = isLanguage(saved.language) ? saved.language : null;
      state.#notifications = saved.notifications;
    } catch (e) {
      // Unreadable settings are not worth refusing to start over: defaults apply.
      env.onStorageError(e);
    }
    state.#applyTheme();
    state.#target.lang = state.#language ?? pickLanguage(env.languages);
    return state;
  }

  get theme(): ThemeChoice {
    return this.#theme;
  }

  /** The language the UI is in (chosen, or else the browser's). */
  get language(): Language {
    return this.#target.lang;
  }

  /** Whether the user wants a notification for messages arriving while the app is hidden. */
  get notifications(): boolean {
    return this.#notifications;
  }

  setTheme(theme: ThemeChoice): void {
    this.#theme = theme;
    this.#applyTheme();
    this.#save({ theme });
  }

  setLanguage(language: Language): void {
    this.#language = language;
    this.#target.lang = language;
    this.#save({ language });
  }

  setNotifications(on: boolean): void {
    this.#notifications = on;
    this.#save({ notifications: on });
  }

  #save(patch: Partial<Settings>): void {
    this.#store.saveSettings(patch).catch((e: unknown) => this.#env.onStorageError(e));
  }

  /** 'system' leaves the choice to the prefers-color-scheme media query in theme.css. */
  #applyTheme(): void {
    const root = this.#env.root;
    if (this.#theme === 'system') delete root.dataset.theme;
    else root.dataset.theme = this.#theme;
    for (const meta of root.ownerDocument.querySelectorAll<HTMLMetaElement>('meta[name="theme-color"]')) {
      const scheme = meta.media.includes('dark') ? 'dark' : 'light';
      meta.content = THEME_BAR_COLOURS[this.#theme === 'system' ? scheme : this.#theme];
    }
  }
}
