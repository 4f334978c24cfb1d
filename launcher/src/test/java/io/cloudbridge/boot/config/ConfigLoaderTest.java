package io.cloudbridge.boot.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
    @TempDir
    Path dir;

    private Path write(String yaml) throws Exception {
        Path file = dir.resolve("cloudbridge.yaml");
        Files.writeString(file, yaml);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return file;
    }

    @Test
    void readsValuesAsWrittenWithTheirLines() throws Exception {
        Path file = write("""
                # comment
                metrics:
                  enabled: true
                  port: 9464
                  ratio: 0.5
                  version: 1.10
                  password: 1e3
                  bindAddress: 127.0.0.1
                kernel:
                  features: [core, shell]
                empty:
                """);
        ConfigSnapshot s = ConfigLoader.load(file, Map.of(), List.of());
        ConfigEntry port = s.section("metrics").get("port");
        assertEquals("9464", port.value());
        assertEquals(4, port.line());
        assertEquals("cloudbridge.yaml:4", port.where());
        assertEquals(Origin.FILE, port.origin());
        assertEquals("true", s.section("metrics").get("enabled").value());
        assertEquals("0.5", s.section("metrics").get("ratio").value());
        assertEquals("1.10", s.section("metrics").get("version").value(), "no float rounding");
        assertEquals("1e3", s.section("metrics").get("password").value(), "no number reading of text");
        assertEquals("127.0.0.1", s.section("metrics").get("bindAddress").value());
        assertEquals(List.of("core", "shell"), s.list("kernel", "features", List.of()));
        assertTrue(s.sections().containsKey("empty"));
    }

    @Test
    void cliBeatsEnvironmentBeatsFile() throws Exception {
        Path file = write("metrics:\n  bindAddress: 127.0.0.1\n  port: 1\n");
        ConfigSnapshot s = ConfigLoader.load(file,
                Map.of("CLOUDBRIDGE_METRICS_BIND_ADDRESS", "::1", "CLOUDBRIDGE_METRICS_PORT", "2", "PATH", "/bin"),
                List.of("metrics.port=3"));
        ConfigEntry address = s.section("metrics").get("bindAddress");
        assertEquals("::1", address.value(), "the variable reaches the camel-case key");
        assertEquals(Origin.ENV, address.origin());
        assertEquals("CLOUDBRIDGE_METRICS_BIND_ADDRESS", address.where());
        ConfigEntry port = s.section("metrics").get("port");
        assertEquals("3", port.value());
        assertEquals(Origin.CLI, port.origin());
        assertEquals(2, s.section("metrics").size(), "overrides replace, they do not add a second spelling");
    }

    @Test
    void overridesCanNameSectionsAndKeysTheFileLacks() throws Exception {
        ConfigSnapshot s = ConfigLoader.load(dir.resolve("absent.yaml"), Map.of("CLOUDBRIDGE_LOGGING_LEVEL", "debug"),
                List.of("shell.socket=/tmp/x.sock"));
        assertEquals("debug", s.string("logging", "level", null));
        assertEquals("/tmp/x.sock", s.string("shell", "socket", null));
    }

    @Test
    void invalidYamlIsRefusedWithFileAndLine() throws Exception {
        Path file = write("metrics:\n  port: 1\n  bad: [unclosed\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file, Map.of(), List.of()));
        assertTrue(e.getMessage().startsWith("cloudbridge.yaml:"), e.getMessage());
        assertTrue(e.getMessage().contains("invalid YAML"), e.getMessage());
    }

    @Test
    void structuralProblemsNameLineSectionAndKey() throws Exception {
        Path file = write("metrics:\n  port: 1\n  nested:\n    deep: 2\nlogging: 5\nmetrics2:\n  a: 1\n  a: 2\n"
                + "shell:\n  bindAddress: x\n  bind-address: y\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file, Map.of(), List.of()));
        List<String> problems = e.problems().stream().map(ConfigProblem::toString).toList();
        assertTrue(problems.contains("cloudbridge.yaml:4: metrics.nested: a value must be a plain value or a list;"
                + " nested maps are not supported"), problems.toString());
        assertTrue(problems.contains("cloudbridge.yaml:5: logging: a section must be a map of keys"), problems.toString());
        assertTrue(problems.stream().anyMatch(p -> p.contains(":8") && p.contains("appears twice")), problems.toString());
        assertTrue(problems.contains("cloudbridge.yaml:11: shell.bind-address: the key appears twice, also as 'bindAddress'"),
                problems.toString());
    }

    @Test
    void deepNestingIsRefusedNotAStackOverflow() throws Exception {
        Path file = write("a: " + "[".repeat(20_000) + "]".repeat(20_000) + "\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file, Map.of(), List.of()));
        assertTrue(e.getMessage().contains("invalid YAML"), e.getMessage());
    }

    @Test
    void aRequiredFileMustExistAndHaveContent() throws Exception {
        Path missing = dir.resolve("gone.yaml");
        assertTrue(ConfigLoader.load(missing, Map.of(), List.of()).sections().isEmpty());
        assertThrows(ConfigException.class, () -> ConfigLoader.load(missing, Map.of(), List.of(), true));
        Path empty = write("");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(empty, Map.of(), List.of(), true));
        assertTrue(e.getMessage().contains("empty"), e.getMessage());
        assertTrue(ConfigLoader.load(write("# defaults\n"), Map.of(), List.of(), true).sections().isEmpty());
    }

    @Test
    void aSecretOverriddenFromTheEnvironmentStillProtectsTheFile() throws Exception {
        Path file = write("auth:\n  clientSecret: in-the-file\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        ConfigSnapshot s = ConfigLoader.load(file, Map.of("CLOUDBRIDGE_AUTH_CLIENT_SECRET", "from-env"), List.of());
        assertEquals("from-env", s.string("auth", "clientSecret", null));
        assertThrows(ConfigException.class, () -> ConfigLoader.checkPermissions(s, s.fileSecrets()));
    }

    @Test
    void overrideProblemsNeverEchoTheValue() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.load(null, Map.of(), List.of("Auth.password=hunter2", "nodot=hunter3")));
        assertTrue(!e.getMessage().contains("hunter"), e.getMessage());
    }

    @Test
    void badOverridesAreRefused() {
        ConfigException env = assertThrows(ConfigException.class,
                () -> ConfigLoader.load(null, Map.of("CLOUDBRIDGE_NOKEY", "x"), List.of()));
        assertEquals("CLOUDBRIDGE_NOKEY", env.problems().get(0).where());
        assertThrows(ConfigException.class, () -> ConfigLoader.load(null, Map.of(), List.of("noequals")));
        assertThrows(ConfigException.class, () -> ConfigLoader.load(null, Map.of(), List.of("nodot=1")));
        assertThrows(ConfigException.class, () -> ConfigLoader.load(null, Map.of(), List.of("Bad-Section.key=1")));
    }

    @Test
    void reservedVariablesOfTheStartScriptAreNotConfiguration() throws Exception {
        ConfigSnapshot s = ConfigLoader.load(null, Map.of("CLOUDBRIDGE_HOME", "/opt/cb", "CLOUDBRIDGE_JAVA_OPTS", "-Xmx1g"),
                List.of());
        assertTrue(s.sections().isEmpty());
    }

    @Test
    void aFileWithSecretsMustBeOwnerOnly() throws Exception {
        Path file = write("auth:\n  preAuthKey: abc123\n");
        ConfigSnapshot s = ConfigLoader.load(file, Map.of(), List.of());
        ConfigLoader.checkPermissions(s, s.fileSecrets()); // 0600 passes
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.checkPermissions(s, s.fileSecrets()));
        assertTrue(e.getMessage().contains("readable by group or others"), e.getMessage());
        assertTrue(e.getMessage().contains("auth.preAuthKey"), e.getMessage());
        assertTrue(e.getMessage().contains("chmod 600"), e.getMessage());

        Path plain = write("metrics:\n  port: 1\n");
        Files.setPosixFilePermissions(plain, PosixFilePermissions.fromString("rw-r--r--"));
        ConfigSnapshot noSecrets = ConfigLoader.load(plain, Map.of(), List.of());
        ConfigLoader.checkPermissions(noSecrets, noSecrets.fileSecrets()); // nothing secret: readable is fine
    }

    @Test
    void anOversizedFileIsRefusedUnread() throws Exception {
        Path file = dir.resolve("big.yaml");
        Files.write(file, new byte[(int) ConfigLoader.MAX_FILE_BYTES + 1]);
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.load(file, Map.of(), List.of()));
        assertTrue(e.getMessage().contains("larger than"), e.getMessage());
    }

    @Test
    void keyNamesMatchAcrossSpellingsAndSecretsAreRecognised() {
        assertEquals(KeyNames.normalize("bindAddress"), KeyNames.normalize("BIND_ADDRESS"));
        assertEquals(KeyNames.normalize("bind-address"), KeyNames.normalize("bind.address"));
        assertTrue(KeyNames.isSecretName("clientSecret"));
        assertTrue(KeyNames.isSecretName("pre_auth_key"));
        assertTrue(!KeyNames.isSecretName("port"));
        assertNull(ConfigValues.toStringList(null).isEmpty() ? null : "x");
        assertEquals(List.of("a", "b"), ConfigValues.toStringList(" a, ,b "));
    }
}
