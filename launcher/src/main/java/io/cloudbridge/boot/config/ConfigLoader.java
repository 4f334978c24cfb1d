package io.cloudbridge.boot.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;

/**
 * Reads the operator's configuration: one YAML file of sections (each a map of keys to scalars or
 * lists of scalars), then environment variables {@code CLOUDBRIDGE_<SECTION>_<KEY>}, then CLI
 * overrides {@code section.key=value}; later sources win. Structural problems (bad YAML, a section
 * that is not a map, a nested map) and an unsafe file mode are reported with file, line and key.
 * Typing against each component's declared attributes happens in the kernel, which knows them.
 */
public final class ConfigLoader {
    /** A configuration file larger than this is refused unread: nothing legitimate comes close. */
    public static final long MAX_FILE_BYTES = 1024 * 1024;
    public static final String ENV_PREFIX = "CLOUDBRIDGE_";
    /** Variables of the start script that share the prefix but are not configuration. */
    private static final Set<String> RESERVED_ENV = Set.of("CLOUDBRIDGE_HOME", "CLOUDBRIDGE_JAVA_OPTS",
            "CLOUDBRIDGE_JAVA", "CLOUDBRIDGE_START_CACHE");

    private ConfigLoader() {
    }

    /**
     * Loads and merges all three sources.
     *
     * @param file         the YAML file; when it does not exist the file contributes nothing
     * @param env          the environment (usually {@code System.getenv()})
     * @param cliOverrides {@code section.key=value} strings, in the order given
     */
    public static ConfigSnapshot load(Path file, Map<String, String> env, List<String> cliOverrides)
            throws ConfigException {
        return load(file, env, cliOverrides, false);
    }

    /**
     * As {@link #load(Path, Map, List)}; with {@code fileRequired} a missing or empty file is refused
     * instead of read as "no settings" — once a daemon runs, such a file is a half-done edit (an
     * editor's truncate-then-write, a delete-then-create), not a wish to return to the defaults.
     */
    public static ConfigSnapshot load(Path file, Map<String, String> env, List<String> cliOverrides,
            boolean fileRequired) throws ConfigException {
        Map<String, Map<String, ConfigEntry>> sections = readFile(file, fileRequired);
        // Taken before any override replaces a value: a secret written in the file stays a reason
        // to protect the file even when the environment overrides it.
        List<ConfigEntry> fromFile = new ArrayList<>();
        sections.values().forEach(m -> fromFile.addAll(m.values()));
        List<ConfigProblem> problems = new ArrayList<>();
        // Sorted so that the result does not depend on the environment's iteration order.
        for (Map.Entry<String, String> var : new TreeMap<>(env).entrySet()) {
            String name = var.getKey();
            if (!name.startsWith(ENV_PREFIX) || RESERVED_ENV.contains(name)) {
                continue;
            }
            String rest = name.substring(ENV_PREFIX.length());
            int split = rest.indexOf('_');
            if (split <= 0 || split == rest.length() - 1) {
                problems.add(new ConfigProblem(name, null, null,
                        "an environment override must be named CLOUDBRIDGE_<SECTION>_<KEY>"));
                continue;
            }
            String section = rest.substring(0, split).toLowerCase(Locale.ROOT);
            overlay(sections, section, rest.substring(split + 1), var.getValue(), Origin.ENV, name);
        }
        int position = 0;
        for (String override : cliOverrides) {
            position++;
            int eq = override.indexOf('=');
            int dot = override.indexOf('.');
            // Problems name the override by position and key only: its value may be a secret.
            if (eq < 0 || dot <= 0 || dot > eq || dot == eq - 1) {
                problems.add(new ConfigProblem("--set #" + position, null, null,
                        "a CLI override must read section.key=value"));
                continue;
            }
            String section = override.substring(0, dot).trim();
            if (!KeyNames.isValidSection(section)) {
                problems.add(new ConfigProblem("--set " + override.substring(0, eq), null, null,
                        "a section name is lower-case letters and digits"));
                continue;
            }
            overlay(sections, section, override.substring(dot + 1, eq).trim(), override.substring(eq + 1),
                    Origin.CLI, "--set " + override.substring(0, eq));
        }
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
        return new ConfigSnapshot(file, sections, fromFile);
    }

    private static void overlay(Map<String, Map<String, ConfigEntry>> sections, String section, String key,
            String value, Origin origin, String where) {
        Map<String, ConfigEntry> entries = sections.computeIfAbsent(section, s -> new LinkedHashMap<>());
        String wanted = KeyNames.normalize(key);
        Optional<String> existing = entries.keySet().stream().filter(k -> KeyNames.normalize(k).equals(wanted))
                .findFirst();
        if (existing.isPresent()) {
            String k = existing.get();
            entries.put(k, entries.get(k).withValue(value, origin, where));
        } else {
            entries.put(key, new ConfigEntry(section, key, value, origin, where, 0));
        }
    }

    /**
     * Refuses a file that holds secrets while group or others may read it: a pre-auth key or a
     * client secret must not be readable by every local user.
     */
    public static void checkPermissions(ConfigSnapshot snapshot, List<ConfigEntry> secrets) throws ConfigException {
        Path file = snapshot.file();
        if (secrets.isEmpty() || file == null || !Files.exists(file)) {
            return;
        }
        Set<PosixFilePermission> perms;
        try {
            perms = Files.getPosixFilePermissions(file);
        } catch (UnsupportedOperationException | IOException notPosix) {
            return; // Windows: ACLs are the installer's business
        }
        if (perms.contains(PosixFilePermission.GROUP_READ) || perms.contains(PosixFilePermission.OTHERS_READ)) {
            ConfigEntry first = secrets.get(0);
            throw new ConfigException(new ConfigProblem(file.getFileName() + ":" + first.line(), first.section(),
                    first.key(), "the file holds secrets but is readable by group or others; restrict it with"
                            + " 'chmod 600 " + file + "'"));
        }
    }

    static Map<String, Map<String, ConfigEntry>> readFile(Path file, boolean required) throws ConfigException {
        if (file == null) {
            return new LinkedHashMap<>();
        }
        String name = file.getFileName().toString();
        String text;
        try {
            if (Files.size(file) > MAX_FILE_BYTES) {
                throw new ConfigException(new ConfigProblem(name, null, null,
                        "the file is larger than " + MAX_FILE_BYTES + " bytes"));
            }
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException absent) {
            if (required) {
                throw new ConfigException(new ConfigProblem(name, null, null, "the file does not exist"));
            }
            return new LinkedHashMap<>();
        } catch (java.nio.charset.MalformedInputException e) {
            throw new ConfigException(new ConfigProblem(name, null, null, "the file is not UTF-8 text"));
        } catch (IOException e) {
            throw new ConfigException(new ConfigProblem(name, null, null, "cannot be read: " + e));
        }
        if (required && text.isEmpty()) {
            throw new ConfigException(new ConfigProblem(name, null, null,
                    "the file is empty (write at least a comment to run on the defaults)"));
        }
        return parse(name, text);
    }

    /** Parses YAML text; public for tests and for checking an edit before it is written. */
    public static Map<String, Map<String, ConfigEntry>> parse(String fileName, String text) throws ConfigException {
        Node root;
        try {
            LoadSettings settings = LoadSettings.builder().setLabel(fileName).setAllowDuplicateKeys(false)
                    .setMaxAliasesForCollections(10).build();
            root = new Compose(settings).composeString(text).orElse(null);
        } catch (MarkedYamlEngineException e) {
            // Point at where the broken construct starts (an unclosed list, say), not at the end of
            // the file where the parser gave up, and name both lines.
            int problemLine = e.getProblemMark().map(m -> m.getLine() + 1).orElse(0);
            int line = e.getContextMark().map(m -> m.getLine() + 1).orElse(problemLine);
            String reason = "invalid YAML: " + (e.getContext() == null ? "" : e.getContext() + ": ") + e.getProblem()
                    + (line != problemLine ? " (at line " + problemLine + ")" : "");
            throw new ConfigException(new ConfigProblem(fileName + ":" + line, null, null, reason));
        } catch (YamlEngineException e) {
            throw new ConfigException(new ConfigProblem(fileName, null, null, "invalid YAML: " + e.getMessage()));
        } catch (IllegalArgumentException e) {
            // The engine reports some broken constructs this way, not as its own exception: a tag
            // with a bad escape ("!%2") is one.
            throw new ConfigException(new ConfigProblem(fileName, null, null, "invalid YAML: " + e.getMessage()));
        } catch (StackOverflowError deep) {
            // The composer recurses per level; a hostile or broken file can nest deeper than the stack.
            throw new ConfigException(new ConfigProblem(fileName, null, null, "invalid YAML: nested too deeply"));
        } catch (RuntimeException e) {
            // The engine's own faults on input it should refuse (the fuzzer found its reader's buffer
            // running past its end on one file): still a refusal of this file, never an escape that
            // takes the daemon's last good configuration with it.
            throw new ConfigException(new ConfigProblem(fileName, null, null, "invalid YAML: the parser failed on it (" + e + ")"));
        }
        Map<String, Map<String, ConfigEntry>> sections = new LinkedHashMap<>();
        if (root == null) {
            return sections;
        }
        if (!(root instanceof MappingNode top)) {
            throw new ConfigException(new ConfigProblem(where(fileName, root), null, null,
                    "the file must be a map of sections"));
        }
        List<ConfigProblem> problems = new ArrayList<>();
        for (NodeTuple sectionTuple : top.getValue()) {
            String section = scalarKey(fileName, sectionTuple.getKeyNode(), problems);
            if (section == null) {
                continue;
            }
            if (!KeyNames.isValidSection(section)) {
                problems.add(new ConfigProblem(where(fileName, sectionTuple.getKeyNode()), section, null,
                        "a section name is lower-case letters and digits"));
                continue;
            }
            if (sections.containsKey(section)) {
                problems.add(new ConfigProblem(where(fileName, sectionTuple.getKeyNode()), section, null,
                        "the section appears twice"));
                continue;
            }
            Node body = sectionTuple.getValueNode();
            Map<String, ConfigEntry> entries = new LinkedHashMap<>();
            sections.put(section, entries);
            if (body instanceof ScalarNode s && s.getTag().equals(Tag.NULL)) {
                continue; // "section:" with nothing under it
            }
            if (!(body instanceof MappingNode map)) {
                problems.add(new ConfigProblem(where(fileName, body), section, null, "a section must be a map of keys"));
                continue;
            }
            for (NodeTuple kv : map.getValue()) {
                String key = scalarKey(fileName, kv.getKeyNode(), problems);
                if (key == null) {
                    continue;
                }
                Node valueNode = kv.getValueNode();
                String sameKey = entries.keySet().stream()
                        .filter(k -> KeyNames.normalize(k).equals(KeyNames.normalize(key))).findFirst().orElse(null);
                if (sameKey != null) {
                    problems.add(new ConfigProblem(where(fileName, kv.getKeyNode()), section, key,
                            sameKey.equals(key) ? "the key appears twice" : "the key appears twice, also as '" + sameKey + "'"));
                    continue;
                }
                try {
                    Object value = value(valueNode);
                    int line = line(kv.getKeyNode());
                    entries.put(key, new ConfigEntry(section, key, value, Origin.FILE, fileName + ":" + line, line));
                } catch (IllegalArgumentException e) {
                    problems.add(new ConfigProblem(where(fileName, valueNode), section, key, e.getMessage()));
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new ConfigException(problems);
        }
        return sections;
    }

    private static String scalarKey(String fileName, Node node, List<ConfigProblem> problems) {
        if (node instanceof ScalarNode s && !s.getTag().equals(Tag.NULL)) {
            return s.getValue();
        }
        problems.add(new ConfigProblem(where(fileName, node), null, null, "a key must be a plain word"));
        return null;
    }

    private static Object value(Node node) {
        if (node instanceof ScalarNode s) {
            return scalar(s);
        }
        if (node instanceof SequenceNode seq) {
            List<Object> items = new ArrayList<>(seq.getValue().size());
            for (Node item : seq.getValue()) {
                if (!(item instanceof ScalarNode s)) {
                    throw new IllegalArgumentException("a list may hold only plain values");
                }
                items.add(scalar(s));
            }
            return List.copyOf(items.stream().map(v -> v == null ? "" : v).toList());
        }
        throw new IllegalArgumentException("a value must be a plain value or a list; nested maps are not supported");
    }

    /**
     * A scalar as the operator wrote it: its text, or {@code null} for YAML's null. Types come from
     * the component's schema, not from YAML's guess, so a password {@code 1e3} stays "1e3" and a
     * version {@code 1.10} stays "1.10".
     */
    private static String scalar(ScalarNode s) {
        return s.getTag().equals(Tag.NULL) ? null : s.getValue();
    }

    private static int line(Node node) {
        return node.getStartMark().map(m -> m.getLine() + 1).orElse(0);
    }

    private static String where(String fileName, Node node) {
        return fileName + ":" + line(node);
    }
}
