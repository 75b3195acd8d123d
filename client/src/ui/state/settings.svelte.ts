import { DEFAULT_SETTINGS, type Settings } from '../../core/store/keystore.ts';
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

/** Where the settings take effect: the AppState. */
export interface SettingsTarget {
  lang: Language;
  /** Whether a message arriving while the app is hidden shows a system notification. */
  notifyWanted?: boolean;
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
  readonly #target: SettingsTarget;
  readonly #env: SettingsEnvironment;

  private constructor(store: SettingsStore, target: SettingsTarget, env: SettingsEnvironment) {
    this.#store = store;
    this.#target = target;
    this.#env = env;
  }

  /** Reads the saved settings and applies them (theme on <html>, language on the app). */
  static async load(store: SettingsStore, target: SettingsTarget, env: SettingsEnvironment): Promise<SettingsState> {
    const state = new SettingsState(store, target, env);
    try {
      const saved = await store.loadSettings();
      state.#theme = saved.theme;
      // An unset setting reads as the default, which must mean "the browser's language".
      // NOTE: while the keystore's default is 'en' rather than '', a user who picks English
      // in a browser set to another language gets the browser's language after a reload.
      const chosen = saved.language !== DEFAULT_SETTINGS.language && isLanguage(saved.language);
      state.#language = chosen ? (saved.language as Language) : null;
      state.#notifications = saved.notifications;
    } catch (e) {
      // Unreadable settings are not worth refusing to start over: defaults apply.
      env.onStorageError(e);
    }
    state.#applyTheme();
    state.#target.lang = state.#language ?? pickLanguage(env.languages);
    state.#target.notifyWanted = state.#notifications;
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
    this.#target.notifyWanted = on;
    this.#save({ notifications: on });
  }

  #save(patch: Partial<Settings>): void {
    this.#store.saveSettings(patch).catch((e: unknown) => this.#env.onStorageError(e));
  }

  /** 'system' leaves the choice to the system: theme.css colours use light-dark() with color-scheme "light dark". */
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
