// What every program opens, and so never counts as a hermeticity violation: the dynamic loader,
// its cache and the shared libraries it maps; locale data; a few device nodes; a process's view
// of itself; and the scratch space the sandbox gives every action. The one list.

export const ALWAYS_ALLOWED: readonly RegExp[] = [
  /^\/etc\/ld\.so\.(cache|preload|conf)$/,
  /^\/etc\/ld\.so\.conf\.d(\/|$)/,
  // shared libraries (and the loader's probing of hwcaps/tls subdirectories for them)
  /^\/(usr\/)?(local\/)?lib(32|64|x32)?\/.+\.so(\.[0-9.]+)?$/,
  /^\/(usr\/)?lib(32|64|x32)?\/[^/]+\/(glibc-hwcaps|tls|haswell|x86_64)(\/|$)/,
  /^\/(usr\/)?lib(32|64|x32)?\/(glibc-hwcaps|tls)(\/|$)/,
  // locale and character-set data
  /^\/usr\/lib\/locale(\/|$)/,
  /^\/usr\/share\/locale(\/|$)/,
  /^\/usr\/share\/i18n(\/|$)/,
  /^\/usr\/lib\/[^/]+\/gconv(\/|$)/,
  // OpenSSL's configuration, read at start by every program linked to it (node among them)
  /^\/(etc|usr\/lib)\/ssl\/openssl\.cnf$/,
  // the zone every action runs in (TZ=UTC)
  /^\/usr\/share\/zoneinfo\/(Etc\/)?(UTC|UTC0|UCT|Universal|Zulu)$/,
  // devices
  /^\/dev\/(null|zero|full|tty|urandom|random|stdin|stdout|stderr)$/,
  /^\/dev\/fd\/\d+$/,
  // the process looking at itself, and the CPU/memory limits runtimes size themselves by
  /^\/proc\/(self|thread-self|\d+)(\/|$)/,
  /^\/proc\/(filesystems|meminfo|cpuinfo|stat)$/,
  /^\/sys\/devices\/system\/cpu(\/|$)/,
  /^\/sys\/fs\/cgroup(\/|$)/,
  /^\/sys\/kernel\/mm\/transparent_hugepage(\/|$)/,
];

export function alwaysAllowed(path: string): boolean {
  return ALWAYS_ALLOWED.some((re) => re.test(path));
}
