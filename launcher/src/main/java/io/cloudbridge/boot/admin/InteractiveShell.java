package io.cloudbridge.boot.admin;

import java.io.IOException;
import java.nio.file.Path;
import org.jline.reader.EndOfFileException;
import org.jline.reader.LineReader;
import org.jline.reader.LineReaderBuilder;
import org.jline.reader.UserInterruptException;
import org.jline.terminal.Terminal;
import org.jline.terminal.TerminalBuilder;

/**
 * {@code bin/cloudbridge shell}: line editing and history with JLine on the operator's terminal,
 * each line run in one Gogo session of the daemon, so session variables persist between lines.
 */
public final class InteractiveShell {
    private InteractiveShell() {
    }

    public static int run(Path socket, Path historyFile) {
        try (AdminClient client = AdminClient.connect(socket);
                Terminal terminal = TerminalBuilder.builder().system(true).build()) {
            LineReader reader = LineReaderBuilder.builder().terminal(terminal).appName("cloudbridge")
                    .variable(LineReader.HISTORY_FILE, historyFile).build();
            terminal.writer().println("Connected to CloudBridge at " + socket + ". Type 'help' for commands,"
                    + " 'exit' or Ctrl-D to leave.");
            while (true) {
                String line;
                try {
                    line = reader.readLine("cloudbridge> ");
                } catch (UserInterruptException interrupted) {
                    continue;
                } catch (EndOfFileException eof) {
                    return 0;
                }
                String command = line.trim();
                if (command.isEmpty()) {
                    continue;
                }
                if (command.equals("exit") || command.equals("quit")) {
                    return 0;
                }
                AdminProtocol.Response response = client.execute(command);
                AdminClient.print(response, System.out, System.err);
                System.out.flush();
            }
        } catch (AdminClient.NoDaemonException e) {
            System.err.println("cloudbridge: " + e.getMessage());
            return AdminClient.EXIT_NO_DAEMON;
        } catch (AdminClient.AccessDeniedException e) {
            System.err.println("cloudbridge: " + e.getMessage());
            return AdminClient.EXIT_PROTOCOL;
        } catch (IOException e) {
            System.err.println("cloudbridge: the admin connection failed: " + e.getMessage());
            return AdminClient.EXIT_PROTOCOL;
        }
    }
}
